/*
 * jsonr.h: JSON text to a jansson tree, fast for the plain documents every request carries.
 *
 * Why: json_loadb reads its input a character at a time through a stream with a string buffer per token;
 * for the 130-byte body of a notification it took 1.4 us, ten times what building the same tree costs.
 * Request bodies and downstream answers are parsed on every exchange, in the HTTP runtime and in the
 * simulator alike.
 *
 * Contract: svc_json_read() returns exactly what json_loadb(buf, len, flags, err) returns: the same tree
 * (same types, values, key order) for a document jansson accepts, NULL with jansson's own error for one it
 * rejects. It gets there in two steps. svc_json_read_fast() decides only documents it can read with
 * certainty: an object or array at the top, ASCII only, escapes other than \u, integers of at most 18
 * digits, reals whose strtod value is finite, no duplicate key, nesting at most SVC_JSONR_DEPTH deep. For
 * anything else (every malformed document among them) it answers NULL, "not decided here", and
 * svc_json_read() hands the text to json_loadb, so errors and rare forms keep jansson's exact behaviour.
 * tests/check_helpers.c holds the fast reader to this against jansson on generated and mutated documents.
 *
 * Reals go through strtod: the services never call setlocale, so the decimal point is '.', as jansson
 * arranges for itself.
 *
 * Ownership: the caller owns the returned tree (json_decref). The input is not modified and need not be
 * NUL-terminated.
 */
#ifndef PC_SERVICES_CORE_JSONR_H
#define PC_SERVICES_CORE_JSONR_H

#include <jansson.h>
#include <stddef.h>

#define SVC_JSONR_DEPTH 32

/* json_loadb's result for (buf, len, flags); flags may be 0 or JSON_REJECT_DUPLICATES (others go straight
 * to json_loadb). err may be NULL; it is filled, by jansson, only when the result is NULL. */
json_t *svc_json_read(const char *buf, size_t len, size_t flags, json_error_t *err);

/* The tree when the fast reader can decide the document, else NULL (not necessarily an error). */
json_t *svc_json_read_fast(const char *buf, size_t len);

#endif
