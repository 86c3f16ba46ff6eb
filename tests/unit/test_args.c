/*
 * test_args — src/core/args.c: a flag's default is declared once, in
 * braces in its help text: args_parse applies it when no flag, environment
 * variable or config file line set the flag, and --help shows the text
 * without the braces. What a parse leaves behind (the config file, the
 * flags taken from it, the passwords) belongs to the caller's struct args,
 * so two parses in one process keep their own (SIGHUP's re-read included).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/args.h"
#include "core/catalog.h"
#include "core/money.h"

/* Write text to a fresh temp file named into path. */
static void write_temp(char path[64], const char *text)
{
    snprintf(path, 64, "/tmp/sf_args_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

struct flags {
    const char *listen, *data;
    int threads;
    int64_t window;
};

#define OPTS(f)                                                                    \
    {                                                                              \
        {"listen", "HOST:PORT", "HTTP address (default {127.0.0.1:8080})",         \
         opt_listen, &(f)->listen},                                                \
        {"threads", "N", "worker threads (default {2})", opt_int, &(f)->threads},  \
        {"dedupe-window", "AGE", "{24h} by default", opt_duration, &(f)->window},  \
        {"data", "DIR", "data directory (default: none)", opt_str, &(f)->data},    \
    }

static int parse(struct args *a, struct flags *f, int argc, char **argv)
{
    const struct opt opts[] = OPTS(f);
    unsetenv("SALESFLOW_THREADS");
    return args_parse(a, "test", "", opts, 4, argc, argv, NULL, 0, NULL);
}

static void defaults_apply_when_nothing_else_sets_a_flag(void **state)
{
    (void)state;
    struct args a = {0};
    struct flags f = {0};
    char *argv[] = {"--config", "/dev/null"};
    assert_int_equal(parse(&a, &f, 2, argv), ARGS_OK);
    assert_non_null(f.listen);
    assert_string_equal(f.listen, "127.0.0.1:8080");
    assert_int_equal(f.threads, 2);
    assert_int_equal(f.window, 24 * 3600 * 1000LL);
    assert_null(f.data);            /* "(default: none)" is no value */
    args_free(&a);
}

static void flags_environment_and_file_beat_the_default(void **state)
{
    (void)state;
    char path[64];
    write_temp(path, "SALESFLOW_DEDUPE_WINDOW=2h\n");
    struct args a = {0};
    struct flags f = {0};
    char *argv[] = {"--config", path, "--listen", "127.0.0.1:9"};
    setenv("SALESFLOW_THREADS", "7", 1);
    const struct opt opts[] = OPTS(&f);
    assert_int_equal(args_parse(&a, "test", "", opts, 4, 4, argv, NULL, 0, NULL), ARGS_OK);
    unsetenv("SALESFLOW_THREADS");
    unlink(path);
    assert_string_equal(f.listen, "127.0.0.1:9");
    assert_int_equal(f.threads, 7);
    assert_int_equal(f.window, 2 * 3600 * 1000LL);
    args_free(&a);
}

static void help_shows_the_default_without_braces(void **state)
{
    (void)state;
    char out[64], text[4096];
    write_temp(out, "");
    struct args a = {0};
    struct flags f = {0};
    char *argv[] = {"--help"};
    fflush(stdout);
    int saved = dup(1);
    FILE *o = fopen(out, "w");
    assert_non_null(o);
    dup2(fileno(o), 1);
    int rc = parse(&a, &f, 1, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(o);
    assert_int_equal(rc, ARGS_HELP);
    o = fopen(out, "r");
    size_t n = fread(text, 1, sizeof(text) - 1, o);
    fclose(o);
    unlink(out);
    text[n] = '\0';
    assert_non_null(strstr(text, "HTTP address (default 127.0.0.1:8080)\n"));
    assert_non_null(strstr(text, "worker threads (default 2)\n"));
    assert_non_null(strstr(text, " 24h by default\n"));
    assert_null(strchr(text, '{'));
    assert_null(f.listen);          /* --help applies nothing */
    args_free(&a);
}

/* Two parses, two config files: each struct args re-reads its own. */
static void each_parse_keeps_its_own_config_file(void **state)
{
    (void)state;
    char p1[64], p2[64], where[1200], err[256];
    write_temp(p1, "SALESFLOW_DATA=/one\nSALESFLOW_MYSQL_PASSWORD=pw1\n");
    write_temp(p2, "SALESFLOW_DATA=/two\n");
    struct args a1 = {0}, a2 = {0};
    struct flags f1 = {0}, f2 = {0};
    char *argv1[] = {"--config", p1}, *argv2[] = {"--config", p2};
    const struct opt o1[] = OPTS(&f1), o2[] = OPTS(&f2);
    const struct opt with_store1[] = {o1[0], o1[1], o1[2], o1[3],
                                      {"store", "URI", "store", opt_store_uri, NULL}};
    assert_int_equal(args_parse(&a1, "t1", "", with_store1, 5, 2, argv1, NULL, 0, NULL),
                     ARGS_OK);
    assert_int_equal(args_parse(&a2, "t2", "", o2, 4, 2, argv2, NULL, 0, NULL), ARGS_OK);
    assert_string_equal(f1.data, "/one");
    assert_string_equal(f2.data, "/two");
    assert_string_equal(a1.mysql_password, "pw1");
    assert_null(a2.mysql_password);

    /* SIGHUP: the files change; each re-reads its own. */
    FILE *f = fopen(p1, "w");
    fputs("SALESFLOW_DATA=/one-b\n", f);
    fclose(f);
    char *val = NULL;
    assert_int_equal(args_reread(&a1, "data", &val, where, sizeof(where), err,
                                 sizeof(err)), 1);
    assert_string_equal(val, "/one-b");
    free(val);
    assert_int_equal(args_reread(&a2, "data", &val, where, sizeof(where), err,
                                 sizeof(err)), 1);
    assert_string_equal(val, "/two");
    free(val);
    /* a flag the parse did not take from its file: nothing to re-read */
    assert_int_equal(args_reread(&a2, "listen", &val, where, sizeof(where), err,
                                 sizeof(err)), 0);
    assert_null(val);
    unlink(p1);
    unlink(p2);
    args_free(&a1);
    args_free(&a2);
}

/* --unit-price's default as the flag takes it and in cents agree. */
static void unit_price_default_agrees_with_its_cents(void **state)
{
    (void)state;
    int64_t cents = 0;
    assert_int_equal(money_parse(SF_DEFAULT_UNIT_PRICE, &cents), 0);
    assert_int_equal(cents, SF_DEFAULT_UNIT_PRICE_CENTS);
}

/* Numbers on the command line are digits from their first character:
 * strtoll() alone takes " 5" and "+3", where "5 " was refused. */
static void numbers_start_with_a_digit(void **state)
{
    (void)state;
    char err[256];
    int i;
    int64_t ms;
    uint64_t bytes;
    static const char *bad[] = {" 5", "+3", "\t7", "-0", "", "5 "};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        assert_int_equal(opt_int(bad[k], &i, err, sizeof(err)), -1);
        assert_int_equal(opt_int64(bad[k], &ms, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "got"));
    }
    static const char *bad_age[] = {" 5s", "+3s", "\n1m", "-0s"};
    for (size_t k = 0; k < sizeof(bad_age) / sizeof(bad_age[0]); k++)
        assert_int_equal(opt_duration(bad_age[k], &ms, err, sizeof(err)), -1);
    static const char *bad_size[] = {" 5M", "+3G", "\t1K"};
    for (size_t k = 0; k < sizeof(bad_size) / sizeof(bad_size[0]); k++)
        assert_int_equal(opt_bytes(bad_size[k], &bytes, err, sizeof(err)), -1);
    assert_int_equal(opt_int("5", &i, err, sizeof(err)), 0);
    assert_int_equal(i, 5);
    assert_int_equal(opt_duration("30s", &ms, err, sizeof(err)), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(opt_bytes("2M", &bytes, err, sizeof(err)), 0);
    assert_int_equal(bytes, 2u << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_apply_when_nothing_else_sets_a_flag),
        cmocka_unit_test(flags_environment_and_file_beat_the_default),
        cmocka_unit_test(help_shows_the_default_without_braces),
        cmocka_unit_test(each_parse_keeps_its_own_config_file),
        cmocka_unit_test(unit_price_default_agrees_with_its_cents),
        cmocka_unit_test(numbers_start_with_a_digit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
