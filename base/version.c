/* version.c: the release and the build's git revision (see version.h). */
#include "base/version.h"

#ifndef PC_GIT_DESCRIBE
#define PC_GIT_DESCRIBE "unknown"
#endif

const char *pc_version(void) { return PC_VERSION; }
const char *pc_git_describe(void) { return PC_GIT_DESCRIBE; }
