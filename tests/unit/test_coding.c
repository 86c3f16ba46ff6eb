/*
 * test_coding — src/core/coding: Content-Encoding values, Accept-Encoding
 * q-values, gzip and zstd decoding (round trips, several members or frames,
 * every way a body can fail to be what it says) and the sink that bounds
 * what decoding may hold.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "core/coding.h"

/* A sink that collects into an sf_buf and stops with 413 past its limit. */
static unsigned collect(void *ctx, const char *p, size_t n)
{
    struct sf_buf *b = ctx;
    return sf_buf_append(b, p, n) ? 413 : 0;
}

static unsigned decode(enum coding c, const char *in, size_t n, struct sf_buf *out,
                       char *msg)
{
    return coding_decode(c, in, n, collect, out, msg, 400);
}

static void parse_values(void **state)
{
    (void)state;
    enum coding c;
    const char *msg = NULL;
    assert_int_equal(coding_parse(NULL, &c, &msg), 0);
    assert_int_equal(c, CODING_IDENTITY);
    assert_int_equal(coding_parse("", &c, &msg), 0);
    assert_int_equal(coding_parse("identity", &c, &msg), 0);
    assert_int_equal(coding_parse("gzip", &c, &msg), 0);
    assert_int_equal(c, CODING_GZIP);
    assert_int_equal(coding_parse(" X-Gzip\t", &c, &msg), 0);
    assert_int_equal(c, CODING_GZIP);
    assert_int_equal(coding_parse("ZSTD", &c, &msg), 0);
    assert_int_equal(c, CODING_ZSTD);
    assert_int_equal(coding_parse("br", &c, &msg), 415);
    assert_non_null(strstr(msg, "does not decode"));
    assert_int_equal(coding_parse("gzip, zstd", &c, &msg), 415);
    assert_non_null(strstr(msg, "more than once"));
    assert_int_equal(coding_parse("gzipx", &c, &msg), 415);
    /* RFC 9110 5.6.1.2: empty list elements are ignored; identity is no
     * coding at all. */
    assert_int_equal(coding_parse("gzip,", &c, &msg), 0);
    assert_int_equal(c, CODING_GZIP);
    assert_int_equal(coding_parse(" , zstd ,, ", &c, &msg), 0);
    assert_int_equal(c, CODING_ZSTD);
    assert_int_equal(coding_parse("identity, gzip", &c, &msg), 0);
    assert_int_equal(c, CODING_GZIP);
    assert_int_equal(coding_parse(",", &c, &msg), 0);
    assert_int_equal(c, CODING_IDENTITY);
    assert_int_equal(coding_parse("gzip, gzip", &c, &msg), 415);
    assert_int_equal(coding_parse("gzip;q=1", &c, &msg), 415);
}

static void accept_encoding(void **state)
{
    (void)state;
    assert_false(coding_accepts_gzip(NULL));
    assert_false(coding_accepts_gzip(""));
    assert_true(coding_accepts_gzip("gzip"));
    assert_true(coding_accepts_gzip("br, gzip;q=0.5"));
    assert_true(coding_accepts_gzip("x-gzip"));
    assert_true(coding_accepts_gzip("*"));
    assert_true(coding_accepts_gzip("gzip ; q=1.0"));
    assert_false(coding_accepts_gzip("gzip;q=0"));
    assert_false(coding_accepts_gzip("gzip;q=0.000"));
    assert_false(coding_accepts_gzip("*;q=0"));
    assert_false(coding_accepts_gzip("*, gzip;q=0"));   /* gzip named: its own q */
    assert_true(coding_accepts_gzip("gzip;q=0.001"));
    assert_false(coding_accepts_gzip("br, deflate"));
    assert_false(coding_accepts_gzip("gzipped"));
    /* x-gzip is gzip's alias: gzip's own q-value wins, whichever comes first */
    assert_true(coding_accepts_gzip("gzip, x-gzip;q=0"));
    assert_true(coding_accepts_gzip("x-gzip;q=0, gzip"));
    assert_false(coding_accepts_gzip("gzip;q=0, x-gzip"));
    assert_false(coding_accepts_gzip("x-gzip, gzip;q=0"));
}

static void gzip_round_trip_and_members(void **state)
{
    (void)state;
    const char text[] = "{\"customer_id\": 3, \"source\": \"Dine In\", \"quantity\": 7}\n";
    struct sf_buf z, out;
    char msg[400];
    sf_buf_init(&z, 1 << 20);
    sf_buf_init(&out, 1 << 20);
    assert_int_equal(coding_gzip(text, strlen(text), 6, &z), 0);
    assert_int_equal(decode(CODING_GZIP, z.data, z.len, &out, msg), 0);
    assert_int_equal(out.len, strlen(text));
    assert_memory_equal(out.data, text, out.len);
    /* Two members are one body (gzip -c a b). */
    assert_int_equal(coding_gzip(text, strlen(text), 6, &z), 0);
    out.len = 0;
    assert_int_equal(decode(CODING_GZIP, z.data, z.len, &out, msg), 0);
    assert_int_equal(out.len, 2 * strlen(text));
    /* Other bytes after the stream, a cut, a flipped bit, plain text. */
    size_t one = z.len / 2;
    char *bad = malloc(z.len + 2);
    memcpy(bad, z.data, one);
    memcpy(bad + one, "{}", 2);
    out.len = 0;
    assert_int_equal(decode(CODING_GZIP, bad, one + 2, &out, msg), 400);
    assert_non_null(strstr(msg, "other bytes follow"));
    assert_int_equal(decode(CODING_GZIP, z.data, one - 3, &out, msg), 400);
    assert_non_null(strstr(msg, "cut short"));
    memcpy(bad, z.data, one);
    bad[one - 6] ^= 0x40;          /* inside the CRC-32 */
    assert_int_equal(decode(CODING_GZIP, bad, one, &out, msg), 400);
    assert_int_equal(decode(CODING_GZIP, text, strlen(text), &out, msg), 400);
    assert_non_null(strstr(msg, "not valid gzip"));
    assert_int_equal(decode(CODING_GZIP, "", 0, &out, msg), 400);
    free(bad);
    sf_buf_free(&z);
    sf_buf_free(&out);
}

static void zstd_round_trip_and_frames(void **state)
{
    (void)state;
    const char text[] = "{\"customer_id\": 4, \"source\": \"Takeaway\", \"quantity\": 1}\n";
    char frame[256], two[512];
    char msg[400];
    size_t n = ZSTD_compress(frame, sizeof(frame), text, strlen(text), 3);
    assert_false(ZSTD_isError(n));
    memcpy(two, frame, n);
    memcpy(two + n, frame, n);
    struct sf_buf out;
    sf_buf_init(&out, 1 << 20);
    assert_int_equal(decode(CODING_ZSTD, frame, n, &out, msg), 0);
    assert_memory_equal(out.data, text, strlen(text));
    out.len = 0;
    assert_int_equal(decode(CODING_ZSTD, two, 2 * n, &out, msg), 0);
    assert_int_equal(out.len, 2 * strlen(text));
    /* The size one whole frame declares; none for two frames or gzip. */
    assert_int_equal(coding_decoded_size(CODING_ZSTD, frame, n), (int64_t)strlen(text));
    assert_int_equal(coding_decoded_size(CODING_ZSTD, two, 2 * n), -1);
    assert_int_equal(coding_decoded_size(CODING_ZSTD, frame, n - 1), -1);
    assert_int_equal(coding_decoded_size(CODING_GZIP, frame, n), -1);
    assert_int_equal(decode(CODING_ZSTD, frame, n - 2, &out, msg), 400);
    assert_non_null(strstr(msg, "cut short"));
    assert_int_equal(decode(CODING_ZSTD, text, strlen(text), &out, msg), 400);
    assert_non_null(strstr(msg, "not valid zstd"));
    assert_int_equal(decode(CODING_ZSTD, "", 0, &out, msg), 400);
    memcpy(two + n, "{}", 2);
    assert_int_equal(decode(CODING_ZSTD, two, n + 2, &out, msg), 400);
    /* Frames of zstd's pre-1.0 formats (magic 0xFD2FB525..27) are refused,
     * first or later: their decoders do not take the window limit. */
    static const unsigned char legacy[][4] = {
        {0x25, 0xB5, 0x2F, 0xFD}, {0x26, 0xB5, 0x2F, 0xFD}, {0x27, 0xB5, 0x2F, 0xFD}};
    for (size_t i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
        char old[64] = {0};
        memcpy(old, legacy[i], 4);
        out.len = 0;
        assert_int_equal(decode(CODING_ZSTD, old, sizeof(old), &out, msg), 400);
        assert_non_null(strstr(msg, "older zstd format"));
        memcpy(two, frame, n);
        memcpy(two + n, old, sizeof(old));
        out.len = 0;
        assert_int_equal(decode(CODING_ZSTD, two, n + sizeof(old), &out, msg), 400);
        assert_non_null(strstr(msg, "older zstd format"));
    }
    sf_buf_free(&out);
}

/* A body that decodes to 64 MiB stops at the sink's 1 MiB: 413, with no
 * more than the limit (and one 64 KiB piece) ever held. */
static void bomb_stops_at_the_limit(void **state)
{
    (void)state;
    size_t big = (size_t)64 << 20;
    char *zeros = calloc(1, big);
    struct sf_buf z, out;
    char msg[400];
    sf_buf_init(&z, big);
    sf_buf_init(&out, 1 << 20);
    assert_int_equal(coding_gzip(zeros, big, 9, &z), 0);
    assert_true(z.len < 100 * 1024);
    assert_int_equal(decode(CODING_GZIP, z.data, z.len, &out, msg), 413);
    assert_true(out.len <= 1 << 20);
    assert_true(out.cap <= (1 << 20) + 1);
    size_t zn = ZSTD_compressBound(big);
    char *zs = malloc(zn);
    zn = ZSTD_compress(zs, zn, zeros, big, 3);
    out.len = 0;
    assert_int_equal(decode(CODING_ZSTD, zs, zn, &out, msg), 413);
    free(zs);
    free(zeros);
    sf_buf_free(&z);
    sf_buf_free(&out);
}

/* coding_gzip refuses to grow past its output's limit. */
static void gzip_output_limit(void **state)
{
    (void)state;
    char noise[4096];
    uint32_t x = 1;
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (char)((x = x * 1103515245u + 12345u) >> 24);
    struct sf_buf z;
    sf_buf_init(&z, sizeof(noise) / 2);
    assert_int_equal(coding_gzip(noise, sizeof(noise), 6, &z), -1);
    sf_buf_free(&z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_values),
        cmocka_unit_test(accept_encoding),
        cmocka_unit_test(gzip_round_trip_and_members),
        cmocka_unit_test(zstd_round_trip_and_frames),
        cmocka_unit_test(bomb_stops_at_the_limit),
        cmocka_unit_test(gzip_output_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
