/*
 * units.h: durations in nanoseconds and sizes in bytes, the project's two units.
 *
 * Every time in the project is an int64_t count of nanoseconds (named *_ns) and every size a count of bytes,
 * so a literal reads as what it means: `500 * MS`, `120 * SEC`, `128 * MIB`.
 */
#ifndef PC_BASE_UNITS_H
#define PC_BASE_UNITS_H

#define US 1000LL               /* a microsecond, in ns */
#define MS 1000000LL            /* a millisecond, in ns */
#define SEC 1000000000LL        /* a second, in ns */
#define MIB (1024LL * 1024LL)   /* a mebibyte, in bytes */
#define MIB_F (1024.0 * 1024.0) /* the same as a double, to divide reals by */

#endif
