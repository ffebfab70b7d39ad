/*
 * text.h: bounded string copies and decimal numbers without printf, and a word-at-a-time test for the
 * bytes JSON escapes, for the per-request paths.
 *
 * Why: snprintf parses its format on every call; on the paths every request takes (ids, paths, Host
 * headers, stored fields) that was a few percent of the simulator's time. These do the same with a length
 * and a memcpy.
 *
 * Contract (copies): like snprintf(dst, cap, "%s", src) and "%llu": the result is NUL-terminated and cut
 * to cap - 1 bytes; the return value is the number of bytes written (without the NUL). cap must be at
 * least 1. Nothing is allocated.
 */
#ifndef PC_SERVICES_CORE_TEXT_H
#define PC_SERVICES_CORE_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline size_t svc_copy(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

/* Appends src at dst[at] (at < cap), keeping the NUL; returns the new length. */
static inline size_t svc_append(char *dst, size_t cap, size_t at, const char *src) {
    return at + svc_copy(dst + at, cap - at, src);
}

/* v in decimal, as "%llu" would print it. */
static inline size_t svc_append_u64(char *dst, size_t cap, size_t at, uint64_t v) {
    char digits[24], *p = digits + sizeof digits;
    *--p = '\0';
    do *--p = (char)('0' + v % 10);
    while (v /= 10);
    return svc_append(dst, cap, at, p);
}

/* Like svc_copy, with every byte outside printable ASCII (0x21..0x7e) written as '?': for echoing a path
 * segment, which may hold any bytes, in a JSON string, which must be valid UTF-8. */
static inline size_t svc_copy_printable(char *dst, size_t cap, const char *src) {
    size_t n = svc_copy(dst, cap, src);
    for (size_t i = 0; i < n; i++)
        if (dst[i] < 0x21 || dst[i] > 0x7e) dst[i] = '?';
    return n;
}

/* Whether any of 8 bytes (a little- or big-endian load, it does not matter) is '"', '\\' or a control
 * character below 0x20: what JSON strings must escape. The classic "has zero byte" and "has byte less
 * than" tests, exact about "any", which is all that the string scanners (jsonw, jsonr) ask. */
static inline int svc_word_has_json_special(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    uint64_t control = (w - ones * 0x20) & ~w & highs;
    return (control | ((quote - ones) & ~quote & highs) | ((backslash - ones) & ~backslash & highs)) != 0;
}

#endif
