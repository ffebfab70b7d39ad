/*
 * support.h: what several Check suites share: running a suite, and a free loopback port for the suites
 * that start service processes. Linked into every test (Makefile: TEST_HELPERS).
 */
#ifndef PC_TESTS_SUPPORT_SUPPORT_H
#define PC_TESTS_SUPPORT_SUPPORT_H

#include <check.h>

/* Runs every test of `s` with Check's output `mode`; `nofork`: in this process (for tests that restart
 * processes main owns). Frees the runner; returns how many tests failed. */
int support_run_suite(Suite *s, enum print_output mode, int nofork);

/* A TCP port on 127.0.0.1 that was free a moment ago (bound and closed), below the kernel's ephemeral
 * range so that no client connection can take it before the server binds it, and never one this process
 * was given before. -1 if none is found. */
int support_free_port(void);

#endif
