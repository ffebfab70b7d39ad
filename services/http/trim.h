/*
 * trim.h: drop the start-up-only pages of the program's libraries from its resident set.
 *
 * A service links ~35 shared libraries (libcurl brings OpenSSL, GnuTLS via libmicrohttpd, Kerberos, LDAP,
 * SSH, ...). Loading them, resolving their symbols and running their initialisers (TLS library set-up)
 * touches several MiB of their files that the service never uses again: plain-HTTP serving needs a small
 * fraction of that code. After start-up the runtime asks the kernel to take the clean, read-only,
 * file-backed pages out of the resident set (madvise MADV_PAGEOUT, Linux 5.4+; ignored where unsupported).
 * Nothing is lost: pages the service does use fault straight back in from the page cache, and pages shared
 * with other processes are left alone by the kernel. Anonymous memory (heap, stacks) is not touched.
 */
#ifndef PC_HTTP_TRIM_H
#define PC_HTTP_TRIM_H

#include <stddef.h>

/* Returns the process's VmRSS in KiB (0 if unknown). */
size_t http_rss_kib(void);
/* Advises every read-only file mapping out of the resident set; returns the number of mappings advised. */
int http_trim_file_pages(void);

#endif
