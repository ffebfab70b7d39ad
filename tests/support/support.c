/*
 * support.c: helpers shared by the Check suites (contract in support.h).
 */
#include "tests/support/support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int support_run_suite(Suite *s, enum print_output mode, int nofork) {
    SRunner *r = srunner_create(s);
    if (nofork) srunner_set_fork_status(r, CK_NOFORK);
    srunner_run_all(r, mode);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed;
}

/* The kernel's ephemeral range (outgoing connections take their local ports from it): a port picked
 * inside it can be taken by any client socket between the pick and the server's bind. */
static int ephemeral_low(void) {
    int lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2) lo = 32768;
        fclose(f);
    }
    return lo;
}

int support_free_port(void) {
    /* Ports handed out by this process are not bound yet when the next one is asked for: never repeat. */
    static int given[64];
    static int ngiven;
    static unsigned seed;
    if (!seed) seed = (unsigned)getpid() * 2654435761u;
    int lo = 20000, hi = ephemeral_low(); /* [lo, hi) */
    if (hi - lo < 1000) lo = 10000, hi = 20000;
    for (int attempt = 0; attempt < 1000; attempt++) {
        seed = seed * 1103515245u + 12345u;
        int port = lo + (int)((seed >> 8) % (unsigned)(hi - lo));
        int repeated = 0;
        for (int i = 0; i < ngiven; i++) repeated |= given[i] == port;
        if (repeated) continue;
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) return -1;
        struct sockaddr_in a = {
            .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
        close(s);
        if (!ok) continue;
        if (ngiven < (int)(sizeof given / sizeof given[0])) given[ngiven++] = port;
        return port;
    }
    return -1;
}

int64_t support_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void support_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

char *support_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 2) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = buf ? n : 0;
    return buf;
}

const support_product support_seed_catalogue[SUPPORT_SEED_PRODUCTS] = {{"1", "Laptop", 50, 15000},
                                                                       {"2", "Telefon", 100, 8000},
                                                                       {"3", "Tablet", 30, 5000},
                                                                       {"4", "Kulakl\xc4\xb1k", 200, 500},
                                                                       {"5",
                                                                        "\xc5\x9e"
                                                                        "arj Cihaz\xc4\xb1",
                                                                        500, 150}};
