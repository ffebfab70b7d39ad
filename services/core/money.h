/*
 * money.h: amounts as integer minor units, and the accepted currencies.
 *
 * JSON carries amounts as numbers in major units (100, 99.5, 12.34). They are converted once, at the edge,
 * into int64 minor units (cents); nothing downstream uses floating point. Every supported currency has two
 * decimals (the list is in money.c and the README); an amount with more decimals, zero, negative,
 * non-finite or above SVC_AMOUNT_MAX_MINOR is rejected.
 */
#ifndef PC_SERVICES_CORE_MONEY_H
#define PC_SERVICES_CORE_MONEY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SVC_AMOUNT_MAX_MINOR 100000000000LL /* 1,000,000,000.00 */

/* 0 and *minor set on success; -1 with a human message in err otherwise. */
int svc_amount_parse(const json_t *value, int64_t *minor, char *err, size_t errlen);
/* The JSON number for an amount: an integer when whole (100), else a real with two decimals (99.5). */
json_t *svc_amount_json(int64_t minor);
int svc_currency_supported(const char *code);
const char *svc_currency_list(void); /* "USD, EUR, ..." */

#endif
