/*
 * json_parse_jsonc — json-c's row of bench/json_parse.c's comparison:
 * json_tokener_parse_ex on each NDJSON line and reading the three fields.
 * Usage: json_parse_jsonc FILE.ndjson [ROUNDS]
 */
#include <json-c/json.h>

#include "json_parse.h"

int main(int argc, char **argv)
{
    size_t nl;
    int rounds;
    struct line *lines = read_lines(argc, argv, &nl, &rounds);
    long check = 0;
    double t0 = now_s();
    json_tokener *tok = json_tokener_new();
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < nl; i++) {
            json_tokener_reset(tok);
            struct json_object *v = json_tokener_parse_ex(tok, lines[i].s, (int)lines[i].n);
            struct json_object *c, *q, *s;
            if (json_object_object_get_ex(v, "customer_id", &c) &&
                json_object_object_get_ex(v, "quantity", &q) &&
                json_object_object_get_ex(v, "source", &s))
                check += json_object_get_int64(c) + json_object_get_int64(q) +
                         (long)strlen(json_object_get_string(s));
            json_object_put(v);
        }
    json_tokener_free(tok);
    report("json-c " JSON_C_VERSION ": parse + read 3 fields", nl * (size_t)rounds,
           now_s() - t0, check);
    free(lines);
    return 0;
}
