/*
 * test_money — src/core/money: parsing decimal text into int64 cents,
 * formatting cents back to text, and the overflow-checked multiply and add
 * that every amount goes through (plus a summing test: no float drift).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/money.h"

/* Parse s and expect success with exactly `want` cents. */
static void expect_cents(const char *s, int64_t want)
{
    int64_t got = -12345;
    assert_int_equal(money_parse(s, &got), 0);
    assert_int_equal(got, want);
}

/* Parse s and expect a rejection. */
static void expect_rejected(const char *s)
{
    int64_t got;
    assert_int_equal(money_parse(s, &got), -1);
}

static void parse_whole_units(void **state)
{
    (void)state;
    expect_cents("300", 30000);
    expect_cents("0", 0);
}

static void parse_one_decimal_is_tenths(void **state)
{
    (void)state;
    expect_cents("300.5", 30050);
}

static void parse_two_decimals(void **state)
{
    (void)state;
    expect_cents("300.00", 30000);
    expect_cents("0.01", 1);
    expect_cents("12.34", 1234);
}

static void parse_largest_amount(void **state)
{
    (void)state;
    expect_cents("9999999999999999.99", SF_MONEY_MAX_CENTS);
}

static void parse_rejects_empty(void **state)
{
    (void)state;
    expect_rejected("");
}

static void parse_rejects_missing_integer_part(void **state)
{
    (void)state;
    expect_rejected(".5");
}

static void parse_rejects_dot_without_decimals(void **state)
{
    (void)state;
    expect_rejected("1.");
}

static void parse_rejects_three_decimals(void **state)
{
    (void)state;
    expect_rejected("1.234");
    expect_rejected("1.000");
}

static void parse_rejects_sign(void **state)
{
    (void)state;
    expect_rejected("-1");
    expect_rejected("+1");
}

static void parse_rejects_exponent(void **state)
{
    (void)state;
    expect_rejected("1e3");
}

static void parse_rejects_blanks(void **state)
{
    (void)state;
    expect_rejected(" 1");
    expect_rejected("1 ");
}

static void parse_rejects_letters(void **state)
{
    (void)state;
    expect_rejected("abc");
    expect_rejected("12a");
}

static void parse_rejects_overflow(void **state)
{
    (void)state;
    /* One cent past the maximum, then far past int64. */
    expect_rejected("10000000000000000");
    expect_rejected("10000000000000000.00");
    expect_rejected("99999999999999999999999999");
}

static void format_zero(void **state)
{
    (void)state;
    char out[24];
    assert_string_equal(money_format(0, out), "0.00");
}

static void format_cents_below_one_unit(void **state)
{
    (void)state;
    char out[24];
    assert_string_equal(money_format(5, out), "0.05");
    assert_string_equal(money_format(50, out), "0.50");
}

static void format_whole_amount(void **state)
{
    (void)state;
    char out[24];
    assert_string_equal(money_format(210000, out), "2100.00");
}

static void format_negative(void **state)
{
    (void)state;
    char out[24];
    assert_string_equal(money_format(-5, out), "-0.05");
    assert_string_equal(money_format(-210001, out), "-2100.01");
}

static void format_extremes_fit_the_buffer(void **state)
{
    (void)state;
    char out[24];
    assert_string_equal(money_format(SF_MONEY_MAX_CENTS, out),
                        "9999999999999999.99");
    assert_string_equal(money_format(INT64_MIN, out), "-92233720368547758.08");
}

static void format_then_parse_round_trips(void **state)
{
    (void)state;
    const int64_t samples[] = {0, 1, 99, 100, 30050, 210000, SF_MONEY_MAX_CENTS};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        char out[24];
        int64_t back = -1;
        assert_int_equal(money_parse(money_format(samples[i], out), &back), 0);
        assert_int_equal(back, samples[i]);
    }
}

static void mul_quantity_by_price(void **state)
{
    (void)state;
    int64_t total = -1;
    assert_int_equal(money_mul(7, 30000, &total), 0);
    assert_int_equal(total, 210000);
}

static void mul_overflow_is_detected(void **state)
{
    (void)state;
    int64_t total = -1;
    /* Just at the limit is fine; one more unit passes it. */
    assert_int_equal(money_mul(SF_MONEY_MAX_CENTS / 3, 3, &total), 0);
    assert_int_equal(total, SF_MONEY_MAX_CENTS);
    assert_int_equal(money_mul(SF_MONEY_MAX_CENTS / 3 + 1, 3, &total), -1);
    /* A product that would wrap int64 around. */
    assert_int_equal(money_mul(INT64_MAX / 2, 30000, &total), -1);
}

static void mul_rejects_negative_factors(void **state)
{
    (void)state;
    int64_t total = -1;
    assert_int_equal(money_mul(-1, 30000, &total), -1);
    assert_int_equal(money_mul(1, -30000, &total), -1);
}

static void add_accumulates(void **state)
{
    (void)state;
    int64_t acc = 100;
    assert_int_equal(money_add(&acc, 250), 0);
    assert_int_equal(acc, 350);
    assert_int_equal(money_add(&acc, -400), 0);
    assert_int_equal(acc, -50);
}

static void add_overflow_leaves_accumulator_unchanged(void **state)
{
    (void)state;
    int64_t acc = SF_MONEY_MAX_CENTS - 1;
    assert_int_equal(money_add(&acc, 1), 0);
    assert_int_equal(acc, SF_MONEY_MAX_CENTS);
    assert_int_equal(money_add(&acc, 1), -1);
    assert_int_equal(acc, SF_MONEY_MAX_CENTS);
    assert_int_equal(money_add(&acc, INT64_MAX), -1);
    assert_int_equal(acc, SF_MONEY_MAX_CENTS);

    acc = -SF_MONEY_MAX_CENTS;
    assert_int_equal(money_add(&acc, -1), -1);
    assert_int_equal(acc, -SF_MONEY_MAX_CENTS);
}

static void ten_thousand_dimes_sum_exactly(void **state)
{
    (void)state;
    int64_t dime, acc = 0;
    char out[24];
    assert_int_equal(money_parse("0.10", &dime), 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(money_add(&acc, dime), 0);
    assert_int_equal(acc, 100000);
    assert_string_equal(money_format(acc, out), "1000.00");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_whole_units),
        cmocka_unit_test(parse_one_decimal_is_tenths),
        cmocka_unit_test(parse_two_decimals),
        cmocka_unit_test(parse_largest_amount),
        cmocka_unit_test(parse_rejects_empty),
        cmocka_unit_test(parse_rejects_missing_integer_part),
        cmocka_unit_test(parse_rejects_dot_without_decimals),
        cmocka_unit_test(parse_rejects_three_decimals),
        cmocka_unit_test(parse_rejects_sign),
        cmocka_unit_test(parse_rejects_exponent),
        cmocka_unit_test(parse_rejects_blanks),
        cmocka_unit_test(parse_rejects_letters),
        cmocka_unit_test(parse_rejects_overflow),
        cmocka_unit_test(format_zero),
        cmocka_unit_test(format_cents_below_one_unit),
        cmocka_unit_test(format_whole_amount),
        cmocka_unit_test(format_negative),
        cmocka_unit_test(format_extremes_fit_the_buffer),
        cmocka_unit_test(format_then_parse_round_trips),
        cmocka_unit_test(mul_quantity_by_price),
        cmocka_unit_test(mul_overflow_is_detected),
        cmocka_unit_test(mul_rejects_negative_factors),
        cmocka_unit_test(add_accumulates),
        cmocka_unit_test(add_overflow_leaves_accumulator_unchanged),
        cmocka_unit_test(ten_thousand_dimes_sum_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
