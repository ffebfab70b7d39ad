/*
 * version.h: what every binary's --version says: the release and the git revision it was built from.
 *
 * The revision is `git describe --always --dirty` at build time, given by the Makefile (GIT_DESCRIBE) when it
 * compiles base/version.c only, so a new commit rebuilds one object; "unknown" when built outside a git tree.
 */
#ifndef PC_BASE_VERSION_H
#define PC_BASE_VERSION_H

#define PC_VERSION "1.0.0"

const char *pc_version(void);
const char *pc_git_describe(void);

#endif
