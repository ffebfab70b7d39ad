/*
 * trim.h: take the start-up-only pages of the program's libraries out of its resident set.
 *
 * A service links ~35 shared libraries (libcurl brings OpenSSL via libssh2, GnuTLS, Kerberos, LDAP, ...).
 * Loading them touches several MiB of their files that plain-HTTP serving never uses again: relocation
 * tables (libcrypto's alone is 430 KiB), initialisers, and the kernel's fault-around, which maps up to 16
 * neighbouring page-cache pages per fault. All of it is counted in VmRSS although it is clean, shared,
 * page-cache memory. After start-up the runtime unmaps those pages from its own page tables
 * (madvise MADV_DONTNEED): the page cache keeps them, nothing is lost, and whatever the service does use
 * faults straight back in (a minor fault, no I/O). VmRSS then shows what the service really uses.
 *
 * Safety: only read-only file mappings without any private (copy-on-write) page are touched; for those,
 * MADV_DONTNEED only drops page-table entries and the next access reads the same bytes from the file. The
 * RELRO segments (relocated, then made read-only) hold private pages and are always skipped. Anonymous
 * memory (heap, stacks) is never touched.
 */
#ifndef PC_SERVICES_HTTP_TRIM_H
#define PC_SERVICES_HTTP_TRIM_H

#include <stddef.h>

/* Returns the process's VmRSS in KiB (0 if unknown). */
size_t http_rss_kib(void);
/* Drops the page-table entries of every eligible mapping; returns the number of mappings trimmed. */
int http_trim_file_pages(void);

#endif
