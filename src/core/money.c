/*
 * money — parse, format and do overflow-checked arithmetic on int64 cents.
 * Floats never touch an amount.
 */
#include "core/money.h"

#include <stdio.h>

int money_parse(const char *s, int64_t *cents)
{
    int64_t units = 0;
    int ndig = 0;
    const char *p = s;

    for (; *p >= '0' && *p <= '9'; p++, ndig++) {
        if (units > SF_MONEY_MAX_CENTS / 100)
            return -1; /* and units * 10 + 9 cannot overflow int64 */
        units = units * 10 + (*p - '0');
    }
    if (ndig == 0)
        return -1;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int nfrac = 0;
        for (; *p >= '0' && *p <= '9'; p++, nfrac++) {
            if (nfrac >= 2)
                return -1;
            frac = frac * 10 + (*p - '0');
        }
        if (nfrac == 0)
            return -1;
        if (nfrac == 1)
            frac *= 10;
    }
    if (*p)
        return -1;
    if (units > SF_MONEY_MAX_CENTS / 100)
        return -1;
    *cents = units * 100 + frac;
    return 0;
}

char *money_format(int64_t cents, char *out)
{
    const char *sign = "";
    uint64_t v = (uint64_t)cents;
    if (cents < 0) {
        sign = "-";
        v = (uint64_t)0 - v;
    }
    snprintf(out, 24, "%s%llu.%02llu", sign, (unsigned long long)(v / 100),
             (unsigned long long)(v % 100));
    return out;
}

int money_mul(int64_t qty, int64_t unit_cents, int64_t *out)
{
    if (qty < 0 || unit_cents < 0)
        return -1;
    if (unit_cents != 0 && qty > SF_MONEY_MAX_CENTS / unit_cents)
        return -1;
    *out = qty * unit_cents;
    return 0;
}

int money_add(int64_t *acc, int64_t v)
{
    if ((v > 0 && *acc > SF_MONEY_MAX_CENTS - v) ||
        (v < 0 && *acc < -SF_MONEY_MAX_CENTS - v))
        return -1;
    *acc += v;
    return 0;
}
