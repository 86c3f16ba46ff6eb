/*
 * json_parse — how the ingest side's JSON handling was chosen: the cost per
 * order of reading one NDJSON line of an order, for
 *   - jansson (json_loadb + reading the three fields),
 *   - json-c: bench/json_parse_jsonc.c, a program of its own (json-c and
 *     jansson export functions of the same names),
 *   - salesflow's general path (jansson's tree + order_validate: types,
 *     ranges, unknown fields, pricing, a UUIDv7),
 *   - salesflow's fast path (order_scan: the same result in one pass).
 * Usage: json_parse FILE.ndjson [ROUNDS]   (bench/json_parse.sh makes the
 * file and runs both programs).
 */
#include "core/order.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_parse.h"

int main(int argc, char **argv)
{
    size_t nl;
    int rounds;
    struct line *lines = read_lines(argc, argv, &nl, &rounds);
    char err[256];
    struct catalog *cat = catalog_load(NULL, 30000, err, sizeof(err));
    if (!cat) {
        fprintf(stderr, "json_parse: %s\n", err);
        return 1;
    }
    size_t orders = nl * (size_t)rounds;
    long check = 0;
    double t0 = now_s();
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < nl; i++) {
            json_t *v = json_loadb(lines[i].s, lines[i].n, JSON_REJECT_DUPLICATES, NULL);
            check += json_integer_value(json_object_get(v, "customer_id")) +
                     json_integer_value(json_object_get(v, "quantity")) +
                     (long)strlen(json_string_value(json_object_get(v, "source")));
            json_decref(v);
        }
    report("jansson 2.14: parse + read 3 fields", orders, now_s() - t0, check);


    check = 0;
    t0 = now_s();
    struct sf_buf d;
    sf_buf_init(&d, 1 << 20);
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < nl; i++) {
            struct order o;
            int n = 0;
            d.len = 0;
            json_t *v = order_parse_json(lines[i].s, lines[i].n, (long)i, &d, &n);
            if (v && order_validate(v, cat, 1795923600123, (long)i, &o, &d, &n) == 0)
                check += o.customer_id + o.quantity;
            json_decref(v);
        }
    sf_buf_free(&d);
    report("salesflow general path: jansson + validate", orders, now_s() - t0, check);

    check = 0;
    t0 = now_s();
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < nl; i++) {
            struct order o;
            if (order_scan_whole(lines[i].s, lines[i].n, cat, 1795923600123, &o))
                check += o.customer_id + o.quantity;
        }
    report("salesflow fast path: order_scan (validates too)", orders, now_s() - t0, check);
    catalog_destroy(cat);
    free(lines);
    return 0;
}
