/*
 * money — exact amounts as int64 cents. Decimal text only at the edges.
 */
#ifndef SF_MONEY_H
#define SF_MONEY_H

#include <stdint.h>

/* Largest amount we accept anywhere: fits DECIMAL(18,2). */
#define SF_MONEY_MAX_CENTS 999999999999999999LL

/* Parse "300", "300.5", "300.00" (no sign, at most two decimals) into cents.
 * Returns 0, or -1 on bad syntax, more than two decimals or overflow. */
int money_parse(const char *s, int64_t *cents);

/* Format cents as "2100.00" into out (at least 24 bytes); returns out. */
char *money_format(int64_t cents, char *out);

/* *out = a * b for a quantity and a unit price in cents; returns 0, or -1 if
 * the result would pass SF_MONEY_MAX_CENTS. */
int money_mul(int64_t qty, int64_t unit_cents, int64_t *out);

/* *acc += v; returns 0, or -1 on overflow (acc unchanged). */
int money_add(int64_t *acc, int64_t v);

#endif
