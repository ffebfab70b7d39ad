/*
 * card.h: card number checks for POST /payment/validate.
 *
 * The full number only ever lives in the caller's request buffer: the result holds the brand, the last four
 * digits and the masked form, never the number, so nothing downstream can store or log it by accident.
 */
#ifndef PC_SERVICES_CORE_CARD_H
#define PC_SERVICES_CORE_CARD_H

#include <stddef.h>

typedef struct svc_card_info {
    int luhn_valid;
    const char *brand; /* "visa", "mastercard", "amex", "discover", "jcb", "diners", "unknown" */
    char last4[5];
    char masked[24]; /* "****-****-****-1234" */
} svc_card_info;

/* Digits with optional spaces or dashes, 12 to 19 digits. Returns -1 with a message when the text is not a
 * card number at all (400); otherwise 0 with luhn_valid telling whether the checksum holds. */
int svc_card_inspect(const char *text, svc_card_info *out, char *err, size_t errlen);

#endif
