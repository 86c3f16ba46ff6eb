/*
 * catalog — reference data: customers (customer_id → state), the order
 * sources, and the unit price. Loaded once at start, read-only afterwards,
 * so any thread may read it without locks.
 */
#ifndef SF_CATALOG_H
#define SF_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#define SF_DEFAULT_CUSTOMERS "data/customers.csv"
#define SF_DEFAULT_UNIT_PRICE_CENTS 30000
#define SF_STATE_MAX 32

struct catalog;

/* Load customers from a CSV with header "customer_id,state" (csv_path NULL:
 * the original 17 customers, built in). Returns NULL
 * and fills errstr (file, line, what is wrong) on failure. */
struct catalog *catalog_load(const char *csv_path, int64_t unit_price_cents,
                             char *errstr, size_t errstr_size);
void catalog_destroy(struct catalog *c);

/* The customer's state, or NULL if the customer is unknown. The string is
 * owned by the catalog. */
const char *catalog_state(const struct catalog *c, int64_t customer_id);
size_t catalog_customer_count(const struct catalog *c);
const char *catalog_path(const struct catalog *c);
int64_t catalog_unit_price(const struct catalog *c);

/* The three order sources, in their canonical order. */
extern const char *const sf_sources[3];
/* Index of source s in sf_sources, or -1. */
int catalog_source_index(const char *s);

#endif
