/*
 * log_append — benchmark of the embedded log's durable appends.
 *
 *   build/bench/log_append DIR [SECONDS]
 *
 * In one run, on the filesystem holding DIR:
 *  1. reference: 4 KiB writes with O_DSYNC, one at a time (what one durable
 *     write costs on this disk);
 *  2. 64 producers each appending batches of 1,000 orders (produce_batch,
 *     then waiting for all 1,000 acks), --fsync always;
 *  3. 64 producers each appending single orders and waiting for the ack.
 * Prints orders/s, fsyncs/s and orders per fsync for 2 and 3.
 */
#include "broker/elog.h"
#include "core/util.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PRODUCERS 64
#define BATCH 1000

struct prod {
    struct broker *b;
    int id, batch;
    int64_t until_ms;
    long long done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending;
};

static void on_ack(void *opaque, int err, int partition, int64_t offset)
{
    struct prod *p = opaque;
    (void)partition, (void)offset;
    if (err) {
        fprintf(stderr, "append failed: %s\n", broker_strerror(err));
        exit(1);
    }
    pthread_mutex_lock(&p->mu);
    if (--p->pending == 0)
        pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *producer(void *arg)
{
    struct prod *p = arg;
    static struct broker_msg msgs[PRODUCERS][BATCH];
    static char vals[PRODUCERS][BATCH][200];
    struct broker_msg *m = msgs[p->id];
    for (int i = 0; i < p->batch; i++) {
        int len = snprintf(vals[p->id][i], sizeof(vals[0][0]),
            "{\"customer_id\":%d,\"source\":\"Dine In\",\"quantity\":%d,\"total\":"
            "%d.00,\"created_at\":\"2026-11-29T03:40:00.123Z\",\"order_id\":"
            "\"01a2255b-fad3-7000-bb3d-%012d\"}", i % 17 + 1, i % 100 + 1,
            (i % 100 + 1) * 300, p->id * BATCH + i);
        m[i] = (struct broker_msg){.key = i % 17 + 1, .value = vals[p->id][i],
                                   .len = (size_t)len, .opaque = p};
    }
    while (sf_mono_ms() < p->until_ms) {
        p->pending = p->batch;
        int rc;
        while ((rc = broker_produce_batch(p->b, m, (size_t)p->batch, on_ack)) ==
               BROKER_EFULL)
            usleep(100);
        if (rc) {
            fprintf(stderr, "produce: %s\n", broker_strerror(rc));
            exit(1);
        }
        pthread_mutex_lock(&p->mu);
        while (p->pending)
            pthread_cond_wait(&p->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
        p->done += p->batch;
    }
    return NULL;
}

static void run(const char *dir, int batch, int secs, const char *label)
{
    char uri[4200], err[512];
    snprintf(uri, sizeof(uri), "file:%s", dir);
    struct broker_conf bc = {.create = 1, .partitions = 4};
    struct broker *b = broker_open(uri, &bc, err, sizeof(err));
    if (!b) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    static struct prod ps[PRODUCERS];
    pthread_t t[PRODUCERS];
    uint64_t f0 = elog_fsync_count(b);
    int64_t t0 = sf_mono_ms();
    for (int i = 0; i < PRODUCERS; i++) {
        ps[i] = (struct prod){.b = b, .id = i, .batch = batch,
                              .until_ms = t0 + secs * 1000};
        pthread_mutex_init(&ps[i].mu, NULL);
        pthread_cond_init(&ps[i].cv, NULL);
        pthread_create(&t[i], NULL, producer, &ps[i]);
    }
    long long total = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(t[i], NULL);
        total += ps[i].done;
    }
    double el = (double)(sf_mono_ms() - t0) / 1000.0;
    uint64_t fs = elog_fsync_count(b) - f0;
    printf("%-34s %10.0f orders/s  %8.0f fsyncs/s  %8.1f orders/fsync\n", label,
           (double)total / el, (double)fs / el, fs ? (double)total / (double)fs : 0.0);
    broker_close(b);
}

static void dsync_reference(const char *dir, int secs)
{
    char path[4200];
    static char block[4096];
    snprintf(path, sizeof(path), "%s/dsync.ref", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DSYNC, 0644);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    long long n = 0;
    int64_t t0 = sf_mono_ms(), until = t0 + secs * 1000;
    while (sf_mono_ms() < until) {
        if (pwrite(fd, block, sizeof(block), (off_t)(n % 1024) * 4096) != 4096) {
            perror("pwrite");
            exit(1);
        }
        n++;
    }
    double el = (double)(sf_mono_ms() - t0) / 1000.0;
    printf("%-34s %10.0f writes/s\n", "reference: 4 KiB O_DSYNC writes", (double)n / el);
    close(fd);
    unlink(path);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: log_append DIR [SECONDS]\n");
        return 2;
    }
    int secs = argc > 2 ? atoi(argv[2]) : 5;
    char d1[4200], d2[4200];
    snprintf(d1, sizeof(d1), "%s/batch", argv[1]);
    snprintf(d2, sizeof(d2), "%s/single", argv[1]);
    dsync_reference(argv[1], secs);
    run(d1, BATCH, secs, "64 producers x batches of 1000");
    run(d2, 1, secs, "64 producers x single orders");
    return 0;
}
