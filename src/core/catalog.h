/*
 * catalog — reference data: customers (customer_id → state), the order
 * sources, and the unit price.
 *
 * Customers can be reloaded while other threads read them (SIGHUP):
 * catalog_reload() builds a complete new table and swaps it in with one
 * atomic pointer store; readers never lock and never see half a table. An
 * old table is freed once no reader that could have seen it is still
 * inside a lookup (two reader counters flipped by the reloader, the scheme
 * of user-space RCU). State strings are interned for the catalog's whole
 * life, so a pointer from catalog_state() stays valid after a reload.
 *
 * The order sources are the catalog's too (default: the original three).
 * An order holds its source as an index into the list, so an index must
 * never change meaning while a thread holds one: after start-up
 * (catalog_set_sources, before any thread reads them) the list only grows.
 * catalog_add_sources() (SIGHUP) takes a list that starts with the current
 * one and appends the rest; one that would remove, rename or reorder a
 * source is refused and changes nothing (a restart can). Readers never
 * lock: the names of published indexes never change, and the count is
 * published after them. A NULL catalog means the default sources (the
 * dashboard of `serve`, `gen`).
 */
#ifndef SF_CATALOG_H
#define SF_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#define SF_DEFAULT_CUSTOMERS "data/customers.csv"
#define SF_DEFAULT_UNIT_PRICE_CENTS 30000
#define SF_DEFAULT_UNIT_PRICE "300.00"    /* the same, as --unit-price takes it */
#define SF_STATE_MAX 32
#define SF_SOURCES_MAX 32       /* at most this many sources */
#define SF_SOURCE_MAX 16        /* a source name is 1..15 bytes */
#define SF_DEFAULT_SOURCES "Dine In,Takeaway,Home Delivery"

struct catalog;

/* Load customers from a CSV with header "customer_id,state" (csv_path NULL:
 * the original 17 customers, built in). Returns NULL
 * and fills errstr (file, line, what is wrong) on failure. */
struct catalog *catalog_load(const char *csv_path, int64_t unit_price_cents,
                             char *errstr, size_t errstr_size);
/* Re-read the customers file and swap the new table in; readers keep
 * working throughout. On failure (returns -1 with errstr) the current
 * table stays. Reloads are serialized; any thread may call it. */
int catalog_reload(struct catalog *c, char *errstr, size_t errstr_size);
void catalog_destroy(struct catalog *c);

/* The customer's state, or NULL if the customer is unknown. The string is
 * owned by the catalog and valid until catalog_destroy, across reloads. */
const char *catalog_state(const struct catalog *c, int64_t customer_id);
size_t catalog_customer_count(const struct catalog *c);
const char *catalog_path(const struct catalog *c);
int64_t catalog_unit_price(const struct catalog *c);

/* The order sources, in their configured order (default: "Dine In",
 * "Takeaway", "Home Delivery"; c NULL: always those). */
size_t catalog_source_count(const struct catalog *c);
/* Source i's name, owned by the catalog and valid until catalog_destroy;
 * NULL when i is not a source. */
const char *catalog_source(const struct catalog *c, int i);
/* Index of source s, or -1. */
int catalog_source_index(const struct catalog *c, const char *s);
/* Check a comma-separated list ("Dine In,Takeaway,…"; names 1..15
 * printable ASCII bytes without quotes or backslash, blanks around them
 * dropped, no duplicates): 0 or -1 with errstr ("--sources …"). */
int catalog_check_sources(const char *list, char *errstr, size_t errstr_size);
/* Replace the sources with list. Only before any thread reads c.
 * Returns 0 or -1 with errstr; on error nothing changes. */
int catalog_set_sources(struct catalog *c, const char *list, char *errstr,
                        size_t errstr_size);
/* Reload (any thread, while others read): list must start with the
 * current sources, in their order; the names after them are appended.
 * Returns 1 when sources were added, 0 when list is the current list, -1
 * with errstr when it is bad or would remove, rename or reorder a source
 * (nothing changes). */
int catalog_add_sources(struct catalog *c, const char *list, char *errstr,
                        size_t errstr_size);
/* "'Dine In', 'Takeaway' or 'Home Delivery'" for error messages; valid
 * until catalog_destroy. */
const char *catalog_sources_text(const struct catalog *c);

#endif
