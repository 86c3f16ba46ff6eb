/*
 * test_catalog — src/core/catalog: loading customers from the repo's
 * data/customers.csv (run with the repo root as cwd) and from the built-in
 * copy, state lookups, rejection of bad files with a message that names the
 * file and line, reloading (also under concurrent readers), and the order
 * sources (default and configured).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/catalog.h"

#define PRICE 30000

/* The original deployment: customer id → state, id 18 unknown. */
static const char *const want_state[] = {
    [1] = "CA", [2] = "CA", [3] = "CA", [4] = "TX", [5] = "TX",
    [6] = "NY", [7] = "NY", [8] = "NY", [9] = "KS", [10] = "KS",
    [11] = "KS", [12] = "KS", [13] = "KY", [14] = "KY", [15] = "KY",
    [16] = "KY", [17] = "KY", [18] = NULL,
};

static void expect_original_states(const struct catalog *c)
{
    for (int64_t id = 1; id <= 18; id++) {
        const char *got = catalog_state(c, id);
        if (!want_state[id]) {
            assert_null(got);
            continue;
        }
        assert_non_null(got);
        assert_string_equal(got, want_state[id]);
    }
}

/* Write `text` to a fresh temp file; its name goes into path. */
static void write_temp(char path[64], const char *text)
{
    snprintf(path, 64, "/tmp/sf_catalog_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* Load `text` from a temp file, expect failure, and check that the error
 * names the file followed by `where` (":LINE", or "" for no line). */
static void expect_load_error(const char *text, const char *where)
{
    char path[64], err[512] = "", want[128];
    write_temp(path, text);
    struct catalog *c = catalog_load(path, PRICE, err, sizeof(err));
    unlink(path);
    if (c) {
        catalog_destroy(c);
        fail_msg("loaded a bad file: %s", text);
    }
    snprintf(want, sizeof(want), "%s%s", path, where);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not name \"%s\"", err, want);
}

static void repo_file_has_17_customers(void **state)
{
    (void)state;
    char err[256] = "";
    struct catalog *c = catalog_load(SF_DEFAULT_CUSTOMERS, PRICE, err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(catalog_customer_count(c), 17);
    assert_string_equal(catalog_path(c), SF_DEFAULT_CUSTOMERS);
    assert_int_equal(catalog_unit_price(c), PRICE);
    catalog_destroy(c);
}

static void repo_file_maps_customers_to_states(void **state)
{
    (void)state;
    char err[256] = "";
    struct catalog *c = catalog_load(SF_DEFAULT_CUSTOMERS, PRICE, err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    expect_original_states(c);
    assert_null(catalog_state(c, 0));
    assert_null(catalog_state(c, -1));
    catalog_destroy(c);
}

static void builtin_matches_the_original_17(void **state)
{
    (void)state;
    char err[256] = "";
    struct catalog *c = catalog_load(NULL, PRICE, err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(catalog_customer_count(c), 17);
    expect_original_states(c);
    catalog_destroy(c);
}

static void crlf_blank_lines_and_blanks_are_tolerated(void **state)
{
    (void)state;
    char path[64], err[256] = "";
    write_temp(path, "customer_id,state\r\n 20 , WA \r\n\r\n21,OR\r\n\n");
    struct catalog *c = catalog_load(path, 12345, err, sizeof(err));
    unlink(path);
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(catalog_customer_count(c), 2);
    assert_string_equal(catalog_state(c, 20), "WA");
    assert_string_equal(catalog_state(c, 21), "OR");
    assert_int_equal(catalog_unit_price(c), 12345);
    catalog_destroy(c);
}

static void unsorted_ids_are_found(void **state)
{
    (void)state;
    char path[64], err[256] = "";
    write_temp(path, "customer_id,state\n900,C\n5,A\n70,B\n");
    struct catalog *c = catalog_load(path, PRICE, err, sizeof(err));
    unlink(path);
    if (!c)
        fail_msg("%s", err);
    assert_string_equal(catalog_state(c, 5), "A");
    assert_string_equal(catalog_state(c, 70), "B");
    assert_string_equal(catalog_state(c, 900), "C");
    assert_null(catalog_state(c, 6));
    catalog_destroy(c);
}

static void rejects_missing_header(void **state)
{
    (void)state;
    expect_load_error("1,CA\n2,CA\n", ":1:");
}

static void rejects_non_integer_id(void **state)
{
    (void)state;
    expect_load_error("customer_id,state\n1,CA\nx,CA\n", ":3:");
    expect_load_error("customer_id,state\n1,CA\n2x,CA\n", ":3:");
}

static void rejects_id_below_one(void **state)
{
    (void)state;
    expect_load_error("customer_id,state\n0,CA\n", ":2:");
    expect_load_error("customer_id,state\n-4,CA\n", ":2:");
}

static void rejects_duplicate_id_naming_its_line(void **state)
{
    (void)state;
    /* The second 2 is on line 4. */
    expect_load_error("customer_id,state\n2,CA\n3,TX\n2,NY\n", ":4");
}

static void rejects_empty_state(void **state)
{
    (void)state;
    expect_load_error("customer_id,state\n1,CA\n5,\n", ":3:");
    expect_load_error("customer_id,state\n5,  \n", ":2:");
}

/* A state the query API's state filter could not name: a comma separates
 * its values, and the file is not quoted CSV ("A,B" was stored with its
 * quotes); a control character is refused in any query (outside review). */
static void rejects_state_a_filter_cannot_name(void **state)
{
    (void)state;
    expect_load_error("customer_id,state\n1,CA\n3,\"A,B\"\n", ":3: state");
    expect_load_error("customer_id,state\n3,A\"B\n", ":2: state");
    expect_load_error("customer_id,state\n3,A\tB\n", ":2: state");
}

static void rejects_line_without_comma(void **state)
{
    (void)state;
    expect_load_error("customer_id,state\n1,CA\n7\n", ":3:");
}

static void rejects_file_without_customers(void **state)
{
    (void)state;
    expect_load_error("customer_id,state\n", "");
}

static void rejects_missing_file(void **state)
{
    (void)state;
    char err[256] = "";
    const char *path = "/tmp/sf_catalog_does_not_exist/customers.csv";
    assert_null(catalog_load(path, PRICE, err, sizeof(err)));
    if (!strstr(err, path))
        fail_msg("error \"%s\" does not name %s", err, path);
}

/* Replace the contents of an existing file. */
static void rewrite(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    fclose(f);
}

static struct catalog *load_ok(const char *path)
{
    char err[256] = "";
    struct catalog *c = catalog_load(path, PRICE, err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    return c;
}

static void reload_swaps_in_the_new_file(void **state)
{
    (void)state;
    char path[64], err[256] = "";
    write_temp(path, "customer_id,state\n1,CA\n");
    struct catalog *c = load_ok(path);
    rewrite(path, "customer_id,state\n1,WA\n2,OR\n");
    assert_int_equal(catalog_reload(c, err, sizeof(err)), 0);
    unlink(path);
    assert_int_equal(catalog_customer_count(c), 2);
    assert_string_equal(catalog_state(c, 1), "WA");
    assert_string_equal(catalog_state(c, 2), "OR");
    catalog_destroy(c);
}

static void failed_reload_keeps_the_current_table(void **state)
{
    (void)state;
    char path[64], err[256] = "";
    write_temp(path, "customer_id,state\n1,CA\n");
    struct catalog *c = load_ok(path);
    rewrite(path, "customer_id,state\n1,WA\nbad,OR\n");
    assert_int_equal(catalog_reload(c, err, sizeof(err)), -1);
    unlink(path);
    if (!strstr(err, path))
        fail_msg("error \"%s\" does not name %s", err, path);
    assert_int_equal(catalog_customer_count(c), 1);
    assert_string_equal(catalog_state(c, 1), "CA");
    catalog_destroy(c);
}

static void state_strings_outlive_a_reload(void **state)
{
    (void)state;
    char path[64], err[256] = "";
    write_temp(path, "customer_id,state\n1,CA\n");
    struct catalog *c = load_ok(path);
    const char *before = catalog_state(c, 1);
    rewrite(path, "customer_id,state\n1,WA\n");
    assert_int_equal(catalog_reload(c, err, sizeof(err)), 0);
    rewrite(path, "customer_id,state\n1,NV\n");
    assert_int_equal(catalog_reload(c, err, sizeof(err)), 0);
    unlink(path);
    assert_string_equal(before, "CA");
    assert_string_equal(catalog_state(c, 1), "NV");
    catalog_destroy(c);
}

/* Readers racing reloads: tables A (ids 1..N → "AA") and B (ids 1..N+1 →
 * "BB") alternate; a reader must always find ids 1..N with a whole table's
 * answer, never NULL or a torn mix. */
enum { RACE_IDS = 200, RACE_READERS = 4, RACE_RELOADS = 300 };

struct race {
    struct catalog *c;
    atomic_int stop;
    atomic_long lookups, bad;
};

static void *race_reader(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->stop)) {
        for (int64_t id = 1; id <= RACE_IDS; id++) {
            const char *s = catalog_state(r->c, id);
            if (!s || (strcmp(s, "AA") != 0 && strcmp(s, "BB") != 0))
                atomic_fetch_add(&r->bad, 1);
        }
        size_t n = catalog_customer_count(r->c);
        if (n != RACE_IDS && n != RACE_IDS + 1)
            atomic_fetch_add(&r->bad, 1);
        atomic_fetch_add(&r->lookups, RACE_IDS);
    }
    return NULL;
}

/* A customers file mapping ids 1..n to state st, into out. */
static void race_csv(char *out, size_t size, const char *st, int n)
{
    size_t at = (size_t)snprintf(out, size, "customer_id,state\n");
    for (int id = 1; id <= n; id++) {
        at += (size_t)snprintf(out + at, size - at, "%d,%s\n", id, st);
        assert_true(at < size);
    }
}

static void reload_under_concurrent_readers(void **state)
{
    (void)state;
    char path[64], err[256] = "", a[16 * RACE_IDS + 32], b[16 * RACE_IDS + 48];
    race_csv(a, sizeof(a), "AA", RACE_IDS);
    race_csv(b, sizeof(b), "BB", RACE_IDS + 1);
    struct race r = {.stop = 0};
    pthread_t th[RACE_READERS];
    write_temp(path, a);
    r.c = load_ok(path);
    for (int i = 0; i < RACE_READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race_reader, &r), 0);
    for (int i = 0; i < RACE_RELOADS; i++) {
        rewrite(path, i % 2 ? a : b);
        if (catalog_reload(r.c, err, sizeof(err)))
            fail_msg("reload %d: %s", i, err);
    }
    atomic_store(&r.stop, 1);
    for (int i = 0; i < RACE_READERS; i++)
        pthread_join(th[i], NULL);
    unlink(path);
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_true(atomic_load(&r.lookups) > 0);
    assert_string_equal(catalog_state(r.c, 1), "AA"); /* the last reload: a */
    catalog_destroy(r.c);
}

static void sources_in_canonical_order(void **state)
{
    (void)state;
    char err[256] = "";
    struct catalog *c = catalog_load(NULL, PRICE, err, sizeof(err));
    assert_non_null(c);
    /* A loaded catalog and a NULL one (the default sources) alike. */
    for (int k = 0; k < 2; k++) {
        const struct catalog *x = k ? NULL : c;
        assert_int_equal(catalog_source_index(x, "Dine In"), 0);
        assert_int_equal(catalog_source_index(x, "Takeaway"), 1);
        assert_int_equal(catalog_source_index(x, "Home Delivery"), 2);
        for (int i = 0; i < 3; i++)
            assert_int_equal(catalog_source_index(x, catalog_source(x, i)), i);
        assert_int_equal(catalog_source_count(x), 3);
        assert_null(catalog_source(x, 3));
        assert_null(catalog_source(x, -1));
    }
    catalog_destroy(c);
}

static void unknown_source_is_minus_one(void **state)
{
    (void)state;
    char err[256] = "";
    struct catalog *c = catalog_load(NULL, PRICE, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(catalog_source_index(c, "dine in"), -1);
    assert_int_equal(catalog_source_index(c, "Dine In "), -1);
    assert_int_equal(catalog_source_index(c, ""), -1);
    catalog_destroy(c);
}

static void configured_sources_replace_the_default(void **state)
{
    (void)state;
    char err[256] = "";
    struct catalog *c = catalog_load(NULL, PRICE, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(catalog_set_sources(c, "Dine In, Kiosk ,Drive Thru", err, sizeof(err)), 0);
    assert_int_equal(catalog_source_count(c), 3);
    assert_int_equal(catalog_source_index(c, "Kiosk"), 1);
    assert_int_equal(catalog_source_index(c, "Drive Thru"), 2);
    assert_int_equal(catalog_source_index(c, "Takeaway"), -1);
    assert_string_equal(catalog_sources_text(c), "'Dine In', 'Kiosk' or 'Drive Thru'");
    /* another catalog, and the default sources, are not touched */
    assert_int_equal(catalog_source_index(NULL, "Takeaway"), 1);
    assert_string_equal(catalog_sources_text(NULL), "'Dine In', 'Takeaway' or 'Home Delivery'");
    assert_int_equal(catalog_set_sources(c, "Dine In,Takeaway,Home Delivery", err, sizeof(err)), 0);
    assert_string_equal(catalog_sources_text(c), "'Dine In', 'Takeaway' or 'Home Delivery'");
    catalog_destroy(c);
}

static void bad_source_lists_rejected_and_change_nothing(void **state)
{
    (void)state;
    const char *bad[] = {"", "A,,B", "A,B,A", "Sixteen chars!!!", "Say \"hi\"", "caf\xc3\xa9"};
    char err[256] = "";
    struct catalog *c = catalog_load(NULL, PRICE, err, sizeof(err));
    assert_non_null(c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (catalog_set_sources(c, bad[i], err, sizeof(err)) != -1)
            fail_msg("accepted --sources \"%s\"", bad[i]);
        assert_true(err[0] != '\0');
        err[0] = '\0';
        assert_int_equal(catalog_check_sources(bad[i], err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
        err[0] = '\0';
        assert_int_equal(catalog_add_sources(c, bad[i], err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
        assert_int_equal(catalog_source_count(c), 3);
        assert_int_equal(catalog_source_index(c, "Home Delivery"), 2);
    }
    catalog_destroy(c);
}

/* A reload appends: every index keeps its name. */
static void added_sources_go_after_the_current_ones(void **state)
{
    (void)state;
    char err[512] = "";
    struct catalog *c = catalog_load(NULL, PRICE, err, sizeof(err));
    assert_non_null(c);
    const char *take = catalog_source(c, 1);
    assert_int_equal(catalog_add_sources(c, "Dine In,Takeaway,Home Delivery", err,
                                         sizeof(err)), 0);
    assert_int_equal(catalog_add_sources(c, "Dine In, Takeaway,Home Delivery,Kiosk", err,
                                         sizeof(err)), 1);
    assert_int_equal(catalog_source_count(c), 4);
    assert_int_equal(catalog_source_index(c, "Kiosk"), 3);
    assert_int_equal(catalog_source_index(c, "Takeaway"), 1);
    assert_ptr_equal(catalog_source(c, 1), take);    /* the same string */
    assert_string_equal(catalog_sources_text(c),
                        "'Dine In', 'Takeaway', 'Home Delivery' or 'Kiosk'");
    catalog_destroy(c);
}

/* Removing, renaming or reordering a source under running writers would
 * change what an index held by them means: refused, nothing changes. */
static void removed_or_reordered_sources_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *list, *why;
    } bad[] = {
        {"Dine In,Home Delivery", "\"Takeaway\" is missing"},
        {"Dine In,Take away,Home Delivery", "\"Takeaway\" is missing"},
        {"Dine In,Home Delivery,Takeaway", "\"Takeaway\" moved from place 2 to 3"},
        {"Kiosk,Dine In,Takeaway,Home Delivery", "\"Dine In\" moved from place 1 to 2"},
    };
    char err[512] = "";
    struct catalog *c = catalog_load(NULL, PRICE, err, sizeof(err));
    assert_non_null(c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(catalog_add_sources(c, bad[i].list, err, sizeof(err)), -1);
        if (!strstr(err, bad[i].why))
            fail_msg("%s: got \"%s\"", bad[i].list, err);
        assert_int_equal(catalog_source_count(c), 3);
        assert_int_equal(catalog_source_index(c, "Takeaway"), 1);
        assert_int_equal(catalog_source_index(c, "Kiosk"), -1);
        assert_string_equal(catalog_sources_text(c),
                            "'Dine In', 'Takeaway' or 'Home Delivery'");
    }
    catalog_destroy(c);
}

struct src_race {
    struct catalog *c;
    atomic_int stop;
    atomic_long bad, reads;
};

static void *source_reader(void *arg)
{
    struct src_race *r = arg;
    while (!atomic_load(&r->stop)) {
        size_t n = catalog_source_count(r->c);
        const char *text = catalog_sources_text(r->c);
        for (size_t i = 0; i < n; i++) {
            char want[32];
            snprintf(want, sizeof(want), "S%d", (int)i);
            const char *got = catalog_source(r->c, (int)i);
            if (!got || strcmp(got, want) || catalog_source_index(r->c, want) != (int)i)
                atomic_fetch_add(&r->bad, 1);
        }
        if (!text || !strstr(text, "'S0'"))
            atomic_fetch_add(&r->bad, 1);
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void sources_added_under_concurrent_readers(void **state)
{
    (void)state;
    char err[512] = "", list[1024] = "S0";
    struct src_race r = {0};
    pthread_t th[3];
    r.c = catalog_load(NULL, PRICE, err, sizeof(err));
    assert_non_null(r.c);
    assert_int_equal(catalog_set_sources(r.c, list, err, sizeof(err)), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, source_reader, &r), 0);
    for (int k = 1; k < SF_SOURCES_MAX; k++) {
        snprintf(list + strlen(list), sizeof(list) - strlen(list), ",S%d", k);
        assert_int_equal(catalog_add_sources(r.c, list, err, sizeof(err)), 1);
        usleep(1000);
    }
    atomic_store(&r.stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_true(atomic_load(&r.reads) > 0);
    assert_int_equal(catalog_source_count(r.c), SF_SOURCES_MAX);
    catalog_destroy(r.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(repo_file_has_17_customers),
        cmocka_unit_test(repo_file_maps_customers_to_states),
        cmocka_unit_test(builtin_matches_the_original_17),
        cmocka_unit_test(crlf_blank_lines_and_blanks_are_tolerated),
        cmocka_unit_test(unsorted_ids_are_found),
        cmocka_unit_test(rejects_missing_header),
        cmocka_unit_test(rejects_non_integer_id),
        cmocka_unit_test(rejects_id_below_one),
        cmocka_unit_test(rejects_duplicate_id_naming_its_line),
        cmocka_unit_test(rejects_empty_state),
        cmocka_unit_test(rejects_state_a_filter_cannot_name),
        cmocka_unit_test(rejects_line_without_comma),
        cmocka_unit_test(rejects_file_without_customers),
        cmocka_unit_test(rejects_missing_file),
        cmocka_unit_test(reload_swaps_in_the_new_file),
        cmocka_unit_test(failed_reload_keeps_the_current_table),
        cmocka_unit_test(state_strings_outlive_a_reload),
        cmocka_unit_test(reload_under_concurrent_readers),
        cmocka_unit_test(sources_in_canonical_order),
        cmocka_unit_test(unknown_source_is_minus_one),
        cmocka_unit_test(configured_sources_replace_the_default),
        cmocka_unit_test(bad_source_lists_rejected_and_change_nothing),
        cmocka_unit_test(added_sources_go_after_the_current_ones),
        cmocka_unit_test(removed_or_reordered_sources_are_refused),
        cmocka_unit_test(sources_added_under_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
