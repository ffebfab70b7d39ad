/*
 * trim.c: MADV_PAGEOUT over read-only file mappings (rationale in trim.h).
 */
#include "services/http/trim.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21 /* Linux 5.4 */
#endif

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

int http_trim_file_pages(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[1024];
    int advised = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long start, end;
        char perms[8], path[512] = "";
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %511s", &start, &end, perms, path) < 3) continue;
        /* Only clean file pages: a path, and no write permission (so no private dirty copies). */
        if (path[0] != '/' || perms[1] == 'w' || end <= start) continue;
        if (madvise((void *)start, end - start, MADV_PAGEOUT) == 0) advised++;
    }
    fclose(f);
    return advised;
}
