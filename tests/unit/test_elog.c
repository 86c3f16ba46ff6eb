/*
 * test_elog — the embedded log (file:DIR) through the broker interface:
 * every acked message polled back exactly once, per-key order and
 * consecutive offsets per partition, the same content after a reopen, the
 * recorded partition count, recovery of a torn or corrupt tail (cut back to
 * the last complete batch), refusal to open over mid-log damage, a foreign
 * file or a log another handle holds, segment rolling, and concurrent
 * producers against a small queue.
 * Each test works in its own mkdtemp directory and removes it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/batch.h"
#include "broker/broker.h"

/* ---- acks ------------------------------------------------------------ */

/* Where one message's ack lands. */
struct slot {
    int acks, err, partition;
    int64_t offset;
};

static pthread_mutex_t ack_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ack_cv = PTHREAD_COND_INITIALIZER;
static long ack_count;

static void on_ack(void *opaque, int err, int partition, int64_t offset)
{
    struct slot *s = opaque;
    pthread_mutex_lock(&ack_mu);
    s->acks++;
    s->err = err;
    s->partition = partition;
    s->offset = offset;
    ack_count++;
    pthread_cond_broadcast(&ack_cv);
    pthread_mutex_unlock(&ack_mu);
}

static void reset_acks(void)
{
    pthread_mutex_lock(&ack_mu);
    ack_count = 0;
    pthread_mutex_unlock(&ack_mu);
}

/* Wait until `target` acks have arrived since reset_acks(); 2 minutes max. */
static void wait_acks(long target)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 120;
    pthread_mutex_lock(&ack_mu);
    int rc = 0;
    while (ack_count < target && rc == 0)
        rc = pthread_cond_timedwait(&ack_cv, &ack_mu, &until);
    long got = ack_count;
    pthread_mutex_unlock(&ack_mu);
    if (got < target)
        fail_msg("only %ld of %ld acks arrived", got, target);
}

/* Produce, retrying while the queue is full (no ack follows EFULL);
 * returns 0 or the broker's error. Safe on any thread. */
static int produce_retry(struct broker *b, int64_t key, const char *v, struct slot *s)
{
    const struct timespec pause = {0, 100000};
    int rc;
    while ((rc = broker_produce(b, key, v, strlen(v), on_ack, s)) == BROKER_EFULL)
        nanosleep(&pause, NULL);
    return rc;
}
#define produce(b, key, v, s) assert_int_equal(produce_retry(b, key, v, s), 0)

/* ---- directories and files ------------------------------------------- */

/* The current test's directories, made by setup and removed by teardown. */
static struct {
    char root[64];          /* mkdtemp directory */
    char dir[96];           /* the log directory inside it */
    char uri[128];
} fx;

static int setup(void **state)
{
    (void)state;
    snprintf(fx.root, sizeof(fx.root), "/tmp/sf_elog_XXXXXX");
    if (!mkdtemp(fx.root))
        return -1;
    snprintf(fx.dir, sizeof(fx.dir), "%s/log", fx.root);
    snprintf(fx.uri, sizeof(fx.uri), "file:%s", fx.dir);
    reset_acks();
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(fx.root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct broker *try_open(int partitions, int create, char *err, size_t errsz)
{
    struct broker_conf conf = {.partitions = partitions, .create = create};
    return broker_open(fx.uri, &conf, err, errsz);
}

static struct broker *open_with(const struct broker_conf *conf)
{
    char err[512] = "";
    struct broker *b = broker_open(fx.uri, conf, err, sizeof(err));
    if (!b)
        fail_msg("open %s: %s", fx.uri, err);
    return b;
}

static struct broker *open_log(int partitions, int create)
{
    struct broker_conf conf = {.partitions = partitions, .create = create};
    return open_with(&conf);
}

/* Open with stderr silenced: recovery logs a warning when it cuts a tail. */
static struct broker *open_quietly(char *err, size_t errsz)
{
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    close(null);
    struct broker *b = try_open(0, 0, err, errsz);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    return b;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *p = malloc((size_t)st.st_size + 1);
    assert_non_null(p);
    assert_int_equal(pread(fd, p, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return p;
}

static void write_file(const char *path, const uint8_t *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, len), (ssize_t)len);
    close(fd);
}

static size_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (size_t)st.st_size;
}

/* 1 if s holds the decimal number v as a whole token. */
static int mentions_number(const char *s, uint64_t v)
{
    char num[32];
    size_t n = (size_t)snprintf(num, sizeof(num), "%" PRIu64, v);
    for (const char *p = s; (p = strstr(p, num)); p++)
        if ((p == s || !isdigit((unsigned char)p[-1])) && !isdigit((unsigned char)p[n]))
            return 1;
    return 0;
}

/* ---- reading back ---------------------------------------------------- */

struct got {
    int partition;
    int64_t offset;
    char value[48];
};

/* Seek every partition to 0 and poll until `want` records came back, then
 * poll once more without waiting so that any extra record shows up too. */
static size_t poll_all(struct broker *b, struct got *out, size_t cap, size_t want)
{
    struct broker_record recs[256];
    char err[512];
    size_t n = 0;
    for (int p = 0; p < broker_partition_count(b); p++)
        assert_int_equal(broker_seek(b, p, 0), 0);
    for (int last = 0; !last;) {
        last = n >= want;
        int k = broker_poll(b, recs, SF_ARRAY_LEN(recs), last ? 0 : 2000, err,
                            sizeof(err));
        if (k < 0)
            fail_msg("poll: %s", err);
        if (k == 0)
            break;
        for (int i = 0; i < k; i++) {
            assert_true(n < cap);
            assert_true(recs[i].len < sizeof(out[n].value));
            out[n].partition = recs[i].partition;
            out[n].offset = recs[i].offset;
            memcpy(out[n].value, recs[i].value, recs[i].len);
            out[n].value[recs[i].len] = '\0';
            n++;
        }
    }
    return n;
}

/* Check the records of a log whose messages were "k=K s=S" for keys
 * [0, nkeys), sequence [0, per_key) each, produced in S order per key:
 * each exactly once, one partition per key, per-key order kept, offsets
 * consecutive from 0 in every partition, and (slots non-NULL) each ack
 * naming the partition and offset the record was read at. */
static void check_all(const struct got *g, size_t n, int nkeys, int per_key,
                      const struct slot *slots, int nparts)
{
    int *next_s = calloc((size_t)nkeys, sizeof(int));
    int *part_of = malloc((size_t)nkeys * sizeof(int));
    int64_t *next_off = calloc((size_t)nparts, sizeof(int64_t));
    assert_true(next_s && part_of && next_off);
    for (int k = 0; k < nkeys; k++)
        part_of[k] = -1;
    assert_int_equal(n, (size_t)nkeys * (size_t)per_key);
    for (size_t i = 0; i < n; i++) {
        int k, s, p = g[i].partition;
        if (sscanf(g[i].value, "k=%d s=%d", &k, &s) != 2 || k < 0 || k >= nkeys)
            fail_msg("unexpected record \"%s\"", g[i].value);
        assert_true(p >= 0 && p < nparts);
        if (g[i].offset != next_off[p])
            fail_msg("partition %d: offset %" PRId64 " where %" PRId64 " was due",
                     p, g[i].offset, next_off[p]);
        next_off[p]++;
        if (s != next_s[k])
            fail_msg("key %d: got s=%d where s=%d was due (lost, repeated or "
                     "reordered)", k, s, next_s[k]);
        next_s[k]++;
        if (part_of[k] < 0)
            part_of[k] = p;
        assert_int_equal(p, part_of[k]);
        if (slots) {
            const struct slot *a = &slots[(size_t)k * per_key + s];
            assert_int_equal(a->acks, 1);
            assert_int_equal(a->err, 0);
            assert_int_equal(a->partition, p);
            assert_int_equal(a->offset, g[i].offset);
        }
    }
    free(next_s);
    free(part_of);
    free(next_off);
}

/* Produce nkeys × per_key messages "k=K s=S", key K, and wait for the acks. */
static struct slot *produce_keys(struct broker *b, int nkeys, int per_key)
{
    struct slot *slots = calloc((size_t)nkeys * per_key, sizeof(*slots));
    char v[48];
    assert_non_null(slots);
    for (int s = 0; s < per_key; s++) {
        for (int k = 0; k < nkeys; k++) {
            snprintf(v, sizeof(v), "k=%d s=%d", k, s);
            produce(b, k, v, &slots[(size_t)k * per_key + s]);
        }
    }
    wait_acks((long)nkeys * per_key);
    return slots;
}

/* ---- tests ------------------------------------------------------------ */

static void every_message_polled_once_in_order(void **state)
{
    (void)state;
    enum { NKEYS = 40, PER_KEY = 50, N = NKEYS * PER_KEY };
    struct broker *b = open_log(4, 1);
    struct slot *slots = produce_keys(b, NKEYS, PER_KEY);
    struct got *g = calloc(N + 16, sizeof(*g));
    assert_non_null(g);
    size_t n = poll_all(b, g, N + 16, N);
    check_all(g, n, NKEYS, PER_KEY, slots, 4);
    /* The keys were spread: every partition holds some of them. */
    int used[4] = {0};
    for (size_t i = 0; i < n; i++)
        used[g[i].partition] = 1;
    assert_true(used[0] && used[1] && used[2] && used[3]);
    broker_close(b);
    free(g);
    free(slots);
}

static void reopened_log_has_same_content(void **state)
{
    (void)state;
    enum { NKEYS = 10, PER_KEY = 30, N = NKEYS * PER_KEY };
    struct broker *b = open_log(3, 1);
    struct slot *slots = produce_keys(b, NKEYS, PER_KEY);
    broker_close(b);
    b = open_log(0, 0);
    assert_int_equal(broker_partition_count(b), 3);
    struct got *g = calloc(N + 16, sizeof(*g));
    assert_non_null(g);
    /* Every record where its ack (before the close) said it was. */
    check_all(g, poll_all(b, g, N + 16, N), NKEYS, PER_KEY, slots, 3);
    broker_close(b);
    free(g);
    free(slots);
}

static void partition_count_is_recorded(void **state)
{
    (void)state;
    char err[512] = "";
    broker_close(open_log(3, 1));
    struct broker *b = open_log(0, 0);
    assert_int_equal(broker_partition_count(b), 3);
    broker_close(b);
    b = open_log(3, 0);
    broker_close(b);
    assert_null(try_open(5, 1, err, sizeof(err)));
    if (!strstr(err, "partitions"))
        fail_msg("error \"%s\" does not mention partitions", err);
}

static void missing_log_not_created_without_create(void **state)
{
    (void)state;
    char err[512] = "";
    struct stat st;
    assert_null(try_open(0, 0, err, sizeof(err)));
    assert_true(err[0] != '\0');
    assert_int_equal(stat(fx.dir, &st), -1);
}

static void segments_roll_and_read_back_after_reopen(void **state)
{
    (void)state;
    enum { N = 20 };
    struct broker_conf conf = {.partitions = 1, .create = 1, .segment_bytes = 256};
    struct slot s[N];
    struct got g[N + 4];
    struct broker_record rec;
    char v[48], pattern[160], err[512];
    glob_t gl;
    memset(s, 0, sizeof(s));
    struct broker *b = open_with(&conf);
    for (int i = 0; i < N; i++) {
        snprintf(v, sizeof(v), "k=0 s=%d", i);
        produce(b, 0, v, &s[i]);
        wait_acks(i + 1); /* ~50-byte batches: at most 5 to a segment */
    }
    broker_close(b);
    snprintf(pattern, sizeof(pattern), "%s/%s-0/*.log", fx.dir, SF_TOPIC_DEFAULT);
    assert_int_equal(glob(pattern, 0, NULL, &gl), 0);
    assert_true(gl.gl_pathc >= 4);
    globfree(&gl);

    b = open_log(0, 0);
    check_all(g, poll_all(b, g, N + 4, N), 1, N, s, 1);
    /* Seeking lands inside a later segment. */
    assert_int_equal(broker_seek(b, 0, 13), 0);
    assert_int_equal(broker_poll(b, &rec, 1, 1000, err, sizeof(err)), 1);
    assert_int_equal(rec.offset, 13);
    assert_int_equal(rec.len, 8);
    assert_memory_equal(rec.value, "k=0 s=13", 8);
    broker_close(b);
}

static size_t count_segments(void)
{
    char pattern[160];
    glob_t gl;
    size_t n = 0;
    snprintf(pattern, sizeof(pattern), "%s/%s-0/*.log", fx.dir, SF_TOPIC_DEFAULT);
    if (glob(pattern, 0, NULL, &gl) == 0)
        n = gl.gl_pathc;
    globfree(&gl);
    return n;
}

/* Retention drops only sealed segments the processor has passed, never
 * the active one, and a consumer behind the start moves to the first kept
 * offset. */
static void retention_only_behind_committed_position(void **state)
{
    (void)state;
    enum { N = 20 };
    struct broker_conf conf = {.partitions = 1, .create = 1, .segment_bytes = 256,
                               .retention_bytes = 300};
    struct slot s[N];
    struct broker_record rec;
    char v[48], err[512];
    memset(s, 0, sizeof(s));
    struct broker *b = open_with(&conf);
    for (int i = 0; i < N; i++) {
        snprintf(v, sizeof(v), "k=0 s=%d", i);
        produce(b, 0, v, &s[i]);
        wait_acks(i + 1);
    }
    size_t before = count_segments();
    assert_true(before >= 4);
    int64_t committed = 0;
    broker_retain(b, &committed, 1);            /* nothing processed yet */
    assert_int_equal(count_segments(), before);
    committed = 7;                              /* inside the second segment */
    broker_retain(b, &committed, 1);
    size_t mid = count_segments();
    assert_true(mid < before);
    committed = N;                              /* everything processed */
    broker_retain(b, &committed, 1);
    size_t after = count_segments();
    assert_true(after >= 1 && after < mid);
    /* A reader at offset 0 continues at the first offset still kept. */
    assert_int_equal(broker_seek(b, 0, 0), 0);
    assert_int_equal(broker_poll(b, &rec, 1, 1000, err, sizeof(err)), 1);
    assert_true(rec.offset > 7);
    broker_close(b);
    /* The log reopens with offsets continuing where they were. */
    b = open_log(0, 0);
    reset_acks();
    struct slot one;
    memset(&one, 0, sizeof(one));
    produce(b, 0, "k=0 s=20", &one);
    wait_acks(1);
    assert_int_equal(one.offset, N);
    broker_close(b);
}

/* Age-based retention removes processed sealed segments older than the
 * limit. */
static void retention_by_age(void **state)
{
    (void)state;
    struct broker_conf conf = {.partitions = 1, .create = 1, .segment_bytes = 256,
                               .retention_ms = 1};
    struct slot s[12];
    char v[48];
    memset(s, 0, sizeof(s));
    struct broker *b = open_with(&conf);
    for (int i = 0; i < 12; i++) {
        snprintf(v, sizeof(v), "k=0 s=%d", i);
        produce(b, 0, v, &s[i]);
        wait_acks(i + 1);
    }
    usleep(20000);
    int64_t committed = 12;
    broker_retain(b, &committed, 1);
    assert_int_equal(count_segments(), 1);      /* only the active one */
    broker_close(b);
}

/* Open the log, produce "k=0 s=first" … "k=0 s=last-1" to partition 0,
 * waiting for each ack so that every message is a batch of its own, and
 * close cleanly. Offsets must continue where the previous session ended. */
static void append_batches(int first, int last)
{
    char v[48];
    struct slot *s = calloc((size_t)last, sizeof(*s));
    assert_non_null(s);
    struct broker *b = open_log(1, 1);
    reset_acks();
    for (int i = first; i < last; i++) {
        snprintf(v, sizeof(v), "k=0 s=%d", i);
        produce(b, 0, v, &s[i]);
        wait_acks(i - first + 1);
        assert_int_equal(s[i].err, 0);
        assert_int_equal(s[i].offset, i);
    }
    broker_close(b);
    free(s);
}

enum { NB = 5 };

/* The files of a one-partition log of NB one-message batches, as a crash
 * leaves them: the segment's .index (stamped by a clean close, and trusted
 * at open for the bytes it covers) covers only the first `stamped` batches;
 * the later ones were appended since and are what recovery must check. */
struct image {
    char log_path[256], index_path[256];
    uint8_t *log, *index;       /* index NULL: there is none */
    size_t log_len, index_len;
    size_t starts[NB + 1];      /* batch positions; starts[NB] = log_len */
};

static void make_image(int stamped, struct image *im)
{
    memset(im, 0, sizeof(*im));
    snprintf(im->log_path, sizeof(im->log_path), "%s/%s-0/00000000000000000000.log",
             fx.dir, SF_TOPIC_DEFAULT);
    snprintf(im->index_path, sizeof(im->index_path), "%.*s.index",
             (int)strlen(im->log_path) - 4, im->log_path);
    if (stamped) {
        append_batches(0, stamped);
        im->index = read_file(im->index_path, &im->index_len);
    }
    append_batches(stamped, NB);
    im->log = read_file(im->log_path, &im->log_len);
    size_t pos = 0;
    for (int i = 0; i < NB; i++) {
        struct batch_info bi;
        assert_int_equal(batch_check(im->log + pos, im->log_len - pos, &bi), BATCH_OK);
        assert_int_equal(bi.base_offset, i);
        im->starts[i] = pos;
        pos += bi.len;
    }
    assert_int_equal(pos, im->log_len);
    im->starts[NB] = pos;
}

/* Put the image's files back (a reopen may have cut or re-stamped them). */
static void restore_image(const struct image *im)
{
    /* Drop what a torn-tail cut added: a .gap and the segment after it. */
    char dir[256];
    snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(im->log_path, '/') - im->log_path),
             im->log_path);
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        char path[600];
        if (e->d_name[0] == '.' || !strncmp(e->d_name, "00000000000000000000.", 21))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    write_file(im->log_path, im->log, im->log_len);
    if (im->index)
        write_file(im->index_path, im->index, im->index_len);
    else
        unlink(im->index_path);
}

static void free_image(struct image *im)
{
    free(im->log);
    free(im->index);
}

/* Restore the image with byte `at` of the .log flipped. */
static void restore_with_flip(struct image *im, size_t at)
{
    im->log[at] ^= 0xFF;
    restore_image(im);
    im->log[at] ^= 0xFF;
}

/* Reopen the log and expect exactly records s=0..want-1 back. */
static void expect_records_after_reopen(int want, const char *what)
{
    char err[512] = "";
    struct got g[16];
    struct broker *b = open_quietly(err, sizeof(err));
    if (!b)
        fail_msg("%s: open failed: %s", what, err);
    size_t n = poll_all(b, g, SF_ARRAY_LEN(g), (size_t)want);
    broker_close(b);
    if (n != (size_t)want)
        fail_msg("%s: %zu records back, want %d", what, n, want);
    check_all(g, n, 1, want, NULL, 1);
}

static void torn_tail_cut_at_every_length(void **state)
{
    (void)state;
    struct image im;
    char what[80];
    make_image(NB - 1, &im);
    /* Pass 0: the index covers batches 0..3; pass 1: there is no index
     * (a crash before the log was ever closed cleanly). */
    for (int pass = 0; pass < 2; pass++) {
        if (pass) {
            free(im.index);
            im.index = NULL;
        }
        for (size_t cut = im.starts[NB - 1]; cut < im.log_len; cut++) {
            restore_image(&im);
            assert_int_equal(truncate(im.log_path, (off_t)cut), 0);
            snprintf(what, sizeof(what), "pass %d, file cut to %zu of %zu bytes",
                     pass, cut, im.log_len);
            expect_records_after_reopen(NB - 1, what);
            if (file_size(im.log_path) != im.starts[NB - 1])
                fail_msg("%s: left %zu bytes, want %zu", what,
                         file_size(im.log_path), im.starts[NB - 1]);
        }
    }
    free_image(&im);
}

/* Records s=0..NB-1 in order at offsets 0..NB-2, then last_offset. */
static void expect_skip(const struct got *g, size_t n, int64_t last_offset)
{
    assert_int_equal(n, NB);
    for (size_t i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof(want), "k=0 s=%zu", i);
        assert_string_equal(g[i].value, want);
        assert_int_equal(g[i].offset, i + 1 < n ? (int64_t)i : last_offset);
    }
}

/* A cut batch whose header still reads (a torn write or a flipped record
 * byte) may have been read by a store: new records are numbered after the
 * end it claims, past a .gap. A tail shorter than a header was never a
 * batch: its offset is used again. */
static void appends_after_torn_tail_skip_its_offsets(void **state)
{
    (void)state;
    struct image im;
    char err[512] = "";
    make_image(NB - 1, &im);
    const size_t cut_to[] = {im.log_len - 1, im.starts[NB - 1] + BATCH_HEADER - 1};
    const int64_t want[] = {NB, NB - 1};
    for (size_t i = 0; i < SF_ARRAY_LEN(cut_to); i++) {
        struct slot s = {0};
        restore_image(&im);
        assert_int_equal(truncate(im.log_path, (off_t)cut_to[i]), 0);
        struct broker *b = open_quietly(err, sizeof(err));
        if (!b)
            fail_msg("open: %s", err);
        reset_acks();
        produce(b, 0, "k=0 s=4", &s);
        wait_acks(1);
        assert_int_equal(s.err, 0);
        assert_int_equal(s.offset, want[i]);
        struct got g[16];
        expect_skip(g, poll_all(b, g, 16, NB), want[i]);
        broker_close(b);
        char gap[300];
        snprintf(gap, sizeof(gap), "%.*s/%020d.gap",
                 (int)(strrchr(im.log_path, '/') - im.log_path), im.log_path, NB - 1);
        assert_int_equal(access(gap, F_OK) == 0, want[i] > NB - 1);
        /* It opens again as it was left. */
        b = open_quietly(err, sizeof(err));
        if (!b)
            fail_msg("reopen: %s", err);
        expect_skip(g, poll_all(b, g, 16, NB), want[i]);
        broker_close(b);
    }
    free_image(&im);
}

static void corrupt_last_batch_is_cut(void **state)
{
    (void)state;
    struct image im;
    char what[64];
    make_image(NB - 1, &im);
    /* Its last record byte, a CRC byte, a magic byte. */
    const size_t at[] = {im.log_len - 1, im.starts[NB - 1] + 12, im.starts[NB - 1] + 1};
    for (size_t i = 0; i < SF_ARRAY_LEN(at); i++) {
        restore_with_flip(&im, at[i]);
        snprintf(what, sizeof(what), "byte %zu flipped", at[i]);
        expect_records_after_reopen(NB - 1, what);
        assert_int_equal(file_size(im.log_path), im.starts[NB - 1]);
    }
    free_image(&im);
}

static void corrupt_middle_batch_fails_open(void **state)
{
    (void)state;
    struct image im;
    char err[512] = "";
    size_t after_len;
    make_image(1, &im);
    /* A record byte of batch 2 of 0..4: valid batches 3 and 4 follow it. */
    size_t at = im.starts[2] + BATCH_HEADER + 4;
    restore_with_flip(&im, at);
    assert_null(open_quietly(err, sizeof(err)));
    if (!strstr(err, im.log_path) || !mentions_number(err, im.starts[2]))
        fail_msg("error \"%s\" does not name %s and byte %zu", err, im.log_path,
                 im.starts[2]);
    /* Nothing was cut: the damage is left for a person to look at. */
    uint8_t *after = read_file(im.log_path, &after_len);
    assert_int_equal(after_len, im.log_len);
    im.log[at] ^= 0xFF;
    assert_memory_equal(after, im.log, im.log_len);
    free(after);
    free_image(&im);
}

static void any_damage_in_middle_batch_never_loses_later_batches(void **state)
{
    (void)state;
    struct image im;
    char err[512];
    make_image(1, &im);
    /* Whatever byte of batch 2 is damaged (its length field included), open
     * either refuses and leaves the file alone, or serves every record. */
    for (size_t at = im.starts[2]; at < im.starts[3]; at++) {
        restore_with_flip(&im, at);
        struct broker *b = open_quietly(err, sizeof(err));
        if (!b) {
            assert_int_equal(file_size(im.log_path), im.log_len);
            continue;
        }
        struct got g[16];
        size_t n = poll_all(b, g, SF_ARRAY_LEN(g), NB);
        broker_close(b);
        if (n != NB)
            fail_msg("byte %zu (batch 2 starts at %zu) flipped: open succeeded, "
                     "%zu of %d records left, file cut from %zu to %zu bytes", at,
                     im.starts[2], n, NB, im.log_len, file_size(im.log_path));
    }
    free_image(&im);
}

static void damage_under_a_clean_index_is_not_served(void **state)
{
    (void)state;
    struct image im;
    struct broker_record recs[16];
    char err[512] = "";
    /* After a clean close the index vouches for every batch, so open need
     * not read them; the damage must still never reach a consumer. */
    make_image(NB, &im);
    restore_with_flip(&im, im.starts[2] + BATCH_HEADER + 4);
    struct broker *b = open_log(0, 0);
    assert_int_equal(broker_seek(b, 0, 2), 0);
    int k = broker_poll(b, recs, SF_ARRAY_LEN(recs), 0, err, sizeof(err));
    broker_close(b);
    assert_true(k < 0);
    if (!strstr(err, im.log_path))
        fail_msg("error \"%s\" does not name %s", err, im.log_path);
    free_image(&im);
}

static void foreign_file_fails_open(void **state)
{
    (void)state;
    const char *where[] = {"notes.txt", SF_TOPIC_DEFAULT "-1/notes.txt"};
    broker_close(open_log(2, 1));
    for (size_t i = 0; i < SF_ARRAY_LEN(where); i++) {
        char path[256], err[512] = "";
        snprintf(path, sizeof(path), "%s/%s", fx.dir, where[i]);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fclose(fp);
        assert_null(try_open(0, 0, err, sizeof(err)));
        if (!strstr(err, "notes.txt"))
            fail_msg("error \"%s\" does not name the foreign file %s", err, path);
        assert_int_equal(unlink(path), 0);
        broker_close(open_log(0, 0));
    }
}

static void second_open_while_open_fails(void **state)
{
    (void)state;
    char err[512] = "";
    struct broker *a = open_log(2, 1);
    assert_null(try_open(0, 0, err, sizeof(err)));
    assert_true(err[0] != '\0');
    assert_null(try_open(0, 1, err, sizeof(err)));
    broker_close(a);
    /* The lock goes with the handle. */
    broker_close(open_log(0, 0));
}

enum { THREADS = 8, PER_THREAD = 100000 };   /* issue 3: 8 threads x 100,000 */

struct producer {
    struct broker *b;
    int id, err;
    struct slot *slots;
};

static void *produce_thread(void *arg)
{
    struct producer *p = arg;
    char v[48];
    for (int s = 0; s < PER_THREAD && !p->err; s++) {
        snprintf(v, sizeof(v), "k=%d s=%d", p->id, s);
        p->err = produce_retry(p->b, p->id, v, &p->slots[s]);
    }
    return NULL;
}

static void concurrent_producers(void **state)
{
    (void)state;
    enum { N = THREADS * PER_THREAD };
    struct slot *slots = calloc(N, sizeof(*slots));
    struct got *g = calloc(N + 16, sizeof(*g));
    struct producer prod[THREADS];
    pthread_t th[THREADS];
    assert_true(slots && g);
    /* A small queue, so that producers also meet BROKER_EFULL and retry. */
    struct broker_conf conf = {.partitions = 4, .create = 1, .queue_max = 4096};
    struct broker *b = open_with(&conf);
    for (int t = 0; t < THREADS; t++) {
        prod[t] = (struct producer){b, t, 0, slots + (size_t)t * PER_THREAD};
        assert_int_equal(pthread_create(&th[t], NULL, produce_thread, &prod[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        if (prod[t].err)
            fail_msg("thread %d: produce: %s", t, broker_strerror(prod[t].err));
    }
    wait_acks(N);
    size_t n = poll_all(b, g, N + 16, N);
    check_all(g, n, THREADS, PER_THREAD, slots, 4);
    broker_close(b);
    free(g);
    free(slots);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(every_message_polled_once_in_order),
        T(reopened_log_has_same_content),
        T(partition_count_is_recorded),
        T(missing_log_not_created_without_create),
        T(segments_roll_and_read_back_after_reopen),
        T(retention_only_behind_committed_position),
        T(retention_by_age),
        T(torn_tail_cut_at_every_length),
        T(appends_after_torn_tail_skip_its_offsets),
        T(corrupt_last_batch_is_cut),
        T(corrupt_middle_batch_fails_open),
        T(any_damage_in_middle_batch_never_loses_later_batches),
        T(damage_under_a_clean_index_is_not_served),
        T(foreign_file_fails_open),
        T(second_open_while_open_fails),
        T(concurrent_producers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
