/*
 * inventory.h: read-only introspection of an inventory replica's state, for the simulator's invariant
 * checkers and the unit tests. Pointers returned stay valid until the next request is handled.
 */
#ifndef PC_SERVICES_INVENTORY_H
#define PC_SERVICES_INVENTORY_H

#include <stddef.h>
#include <stdint.h>

typedef struct inventory_stock {
    const char *product_id;
    int owned;         /* this replica owns the product; counts elsewhere are the untouched catalogue */
    int64_t initial;   /* catalogue stock at start */
    int64_t available; /* stock that can still be reserved */
    int64_t reserved;  /* held by live reservations */
    int64_t released;  /* given back by releases, in total */
    int64_t restocked; /* added by restocks, in total: available + reserved == initial + restocked */
} inventory_stock;

size_t inventory_product_count(void *state);
int inventory_product_stock(void *state, size_t index, inventory_stock *out);
/* Quantity held by a live reservation, or 0. */
int64_t inventory_reservation_quantity(void *state, const char *reservation_id);
void inventory_foreach_held(void *state,
                            void (*fn)(void *ctx, const char *rid, const char *product_id, int64_t quantity),
                            void *ctx);

#endif
