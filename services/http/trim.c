/*
 * trim.c: MADV_DONTNEED over clean, read-only file mappings (rationale and safety in trim.h).
 */
#include "services/http/trim.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

size_t http_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kib = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            unsigned long v = 0;
            if (sscanf(line + 6, "%lu", &v) == 1) kib = v;
            break;
        }
    fclose(f);
    return kib;
}

typedef struct mapping {
    unsigned long start, end;
    int eligible; /* a file, not writable */
    unsigned long anonymous_kib;
} mapping;

static int trim(const mapping *m) {
    if (!m->eligible || m->anonymous_kib != 0 || m->end <= m->start) return 0;
    return madvise((void *)m->start, m->end - m->start, MADV_DONTNEED) == 0;
}

int http_trim_file_pages(void) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return 0;
    char line[1024];
    mapping m = {0, 0, 0, 1}; /* not eligible until a header says so */
    int trimmed = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long start, end, kib;
        char perms[8], path[512] = "";
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %511s", &start, &end, perms, path) >= 3 && strchr(line, '-') &&
            strlen(perms) == 4) {
            trimmed += trim(&m); /* the previous mapping is complete */
            m.start = start;
            m.end = end;
            m.eligible = path[0] == '/' && perms[1] != 'w';
            m.anonymous_kib = 1; /* until its Anonymous: line proves otherwise */
        } else if (sscanf(line, "Anonymous: %lu kB", &kib) == 1) {
            m.anonymous_kib = kib;
        }
    }
    trimmed += trim(&m);
    fclose(f);
    return trimmed;
}
