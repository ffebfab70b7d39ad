/*
 * ids.c: id formatting and the ownership rules (see ids.h).
 */
#include "services/core/ids.h"

#include <stdio.h>
#include <string.h>

#include "services/core/text.h"

int svc_owner_of_key(const char *key, int replicas) {
    if (replicas <= 1) return 0;
    return (int)(pc_fnv1a(key) % (uint32_t)replicas);
}

void svc_make_id(char *out, size_t outlen, const char *prefix, int replica, uint64_t rnd) {
    /* "%s-%d-%016llx" by hand: an id is made for every payment, refund and notification */
    static const char hex[] = "0123456789abcdef";
    char tail[20];
    for (int i = 0; i < 16; i++) tail[1 + i] = hex[(rnd >> (60 - 4 * i)) & 15];
    tail[0] = '-';
    tail[17] = '\0';
    size_t n = svc_append(out, outlen, svc_copy(out, outlen, prefix), replica < 0 ? "--" : "-");
    n = svc_append_u64(out, outlen, n, replica < 0 ? 0 - (uint64_t)replica : (uint64_t)replica);
    svc_append(out, outlen, n, tail);
}

void svc_make_id_hex(char *out, size_t outlen, const char *prefix, int replica, const char hex[32]) {
    char tail[34];
    tail[0] = '-';
    memcpy(tail + 1, hex, 32);
    tail[33] = '\0';
    size_t n = svc_append(out, outlen, svc_copy(out, outlen, prefix), replica < 0 ? "--" : "-");
    n = svc_append_u64(out, outlen, n, replica < 0 ? 0 - (uint64_t)replica : (uint64_t)replica);
    svc_append(out, outlen, n, tail);
}

int svc_owner_of_id(const char *id, const char *prefix, int replicas) {
    size_t n = strlen(prefix);
    if (strncmp(id, prefix, n) == 0 && id[n] == '-') {
        const char *p = id + n + 1;
        int r = 0, digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            r = r * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits > 0 && *p == '-' && r < replicas) return r;
    }
    return svc_owner_of_key(id, replicas);
}

int svc_id_acceptable(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                 c == ':' || c == '-';
        if (!ok || n >= SVC_ID_MAX) return 0;
    }
    return n > 0;
}
