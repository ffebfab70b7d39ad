/*
 * support.h: what several Check suites share: running a suite, a free loopback port for the suites that
 * start service processes, the monotonic clock and sleeps they poll with, and reading a whole file (logs,
 * journals, captured output). Linked into every test (Makefile: TEST_HELPERS), as are the other modules
 * of tests/support/: proc.h (the process launcher), httpc.h (the HTTP client), fake_runtime.h (an
 * in-memory svc_runtime) and sim_probe.h (requests to a simulated cluster).
 *
 * None of these functions asserts: they report failures by their return values, so they work in main()
 * as well as inside a test.
 */
#ifndef PC_TESTS_SUPPORT_SUPPORT_H
#define PC_TESTS_SUPPORT_SUPPORT_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Runs every test of `s` with Check's output `mode`; `nofork`: in this process (for tests that restart
 * processes main owns). Frees the runner; returns how many tests failed. */
int support_run_suite(Suite *s, enum print_output mode, int nofork);

/* A TCP port on 127.0.0.1 that was free a moment ago (bound and closed), below the kernel's ephemeral
 * range so that no client connection can take it before the server binds it, and never one this process
 * was given before. -1 if none is found. */
int support_free_port(void);

/* The seed's catalogue at start (its README and api.md): what /list and /check answer before any order.
 * Names in UTF-8. */
typedef struct support_product {
    const char *id, *name;
    int stock, price;
} support_product;
enum { SUPPORT_SEED_PRODUCTS = 5 };
extern const support_product support_seed_catalogue[SUPPORT_SEED_PRODUCTS];

/* CLOCK_MONOTONIC in milliseconds. */
int64_t support_now_ms(void);

/* Sleeps ms milliseconds. */
void support_sleep_ms(int ms);

/* The whole file, NUL-terminated (it may hold NULs itself: *len, when len is not NULL, is its size);
 * NULL if it cannot be read. The caller frees it. */
char *support_read_file(const char *path, size_t *len);

#endif
