/*
 * test_sqlite_compact — src/store/sqlite_compact.c: the order_id codec
 * (canonical lowercase UUID text <-> 16 bytes, everything else refused and
 * kept as text), and the orders view against the C formatting: for random
 * ids and times over 1970..9999, the view's uuid and created_at equal what
 * the processor wrote before the compact layout (the id text and
 * sf_format_time).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/sqlite_int.h"

static void codec_round_trip(void **state)
{
    (void)state;
    const char *id = "01a22564-1c7c-7005-936a-aa441f333228";
    unsigned char b[16];
    char back[37];
    assert_int_equal(sqlite_uuid_pack(id, strlen(id), b), 0);
    assert_int_equal(b[0], 0x01);
    assert_int_equal(b[15], 0x28);
    sqlite_uuid_unpack(b, back);
    assert_string_equal(back, id);
}

static void codec_refuses_what_would_not_come_back(void **state)
{
    (void)state;
    unsigned char b[16];
    const char *bad[] = {
        "01A22564-1c7c-7005-936a-aa441f333228",     /* uppercase */
        "01a225641c7c7005936aaa441f333228",         /* no dashes */
        "01a22564-1c7c-7005-936a-aa441f33322",      /* short */
        "01a22564-1c7c-7005-936a-aa441f3332289",    /* long */
        "01a22564-1c7c-7005-936aaaa441f333228-",    /* dash misplaced */
        "01a22564-1c7c-7005-936a-aa441f33322g",     /* not hex */
        "client-key-1",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sqlite_uuid_pack(bad[i], strlen(bad[i]), b), -1);
}

/* Every byte value at every position: only the canonical lowercase text
 * packs, and what packs unpacks to the same text. */
static void codec_every_byte_at_every_position(void **state)
{
    (void)state;
    const char *good = "0123abcd-ef45-6789-a0b1-c2d3e4f5a6b7";
    for (int at = 0; at < 36; at++) {
        for (int c = 1; c < 256; c++) {
            char id[37], back[37];
            unsigned char b[16];
            memcpy(id, good, 37);
            id[at] = (char)c;
            int dash = at == 8 || at == 13 || at == 18 || at == 23;
            int ok = dash ? c == '-' : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            assert_int_equal(sqlite_uuid_pack(id, 36, b), ok ? 0 : -1);
            if (ok) {
                sqlite_uuid_unpack(b, back);
                assert_string_equal(back, id);
            }
        }
    }
}

static void view_shows_what_was_written(void **state)
{
    (void)state;
    sqlite3 *db;
    sqlite3_stmt *ins, *sel;
    char err[512];
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite_orders_setup(db, err, sizeof(err)), 0);
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO orders_data VALUES"
                                        " (?, 1, 'Dine In', 2, ?, ?, 'CA')", -1, &ins,
                                        NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT uuid, created_at, total FROM orders"
                                        " WHERE total_cents = ?", -1, &sel, NULL),
                     SQLITE_OK);
    srand(17);
    for (int i = 0; i < 20000; i++) {
        char id[64], ts[32];
        unsigned char b[16];
        /* 1970-01-01 .. 9999-12-31, and the edges. */
        int64_t max = INT64_C(253402300799999);
        int64_t ms = i == 0 ? 0 : i == 1 ? max
                   : (int64_t)(((uint64_t)rand() << 31 | (uint64_t)rand()) % (uint64_t)max);
        if (i % 3 == 0)
            snprintf(id, sizeof(id), "%08x-%04x-%04x-%04x-%08x%04x", (unsigned)rand(),
                     (unsigned)rand() & 0xffff, (unsigned)rand() & 0xffff,
                     (unsigned)rand() & 0xffff, (unsigned)rand(), (unsigned)i & 0xffff);
        else
            snprintf(id, sizeof(id), "%s-%d", i % 3 == 1 ? "client" : "A", i);
        sqlite_bind_id(ins, 1, id, b);
        sqlite3_bind_int64(ins, 2, i);
        sqlite3_bind_int64(ins, 3, ms);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
        sqlite3_bind_int64(sel, 1, i);
        assert_int_equal(sqlite3_step(sel), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(sel, 0), id);
        assert_string_equal((const char *)sqlite3_column_text(sel, 1), sf_format_time(ms, ts));
        char total[32];
        snprintf(total, sizeof(total), "%d.%02d", i / 100, i % 100);
        assert_string_equal((const char *)sqlite3_column_text(sel, 2), total);
        sqlite3_reset(sel);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(sel);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_round_trip),
        cmocka_unit_test(codec_refuses_what_would_not_come_back),
        cmocka_unit_test(codec_every_byte_at_every_position),
        cmocka_unit_test(view_shows_what_was_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
