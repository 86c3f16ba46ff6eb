/*
 * log_fill — write N random valid orders into an embedded log, fast, for
 * the replay benchmark: build/bench/log_fill DATA_DIR N [SEED [SPAN_DAYS]]
 * (creates DATA_DIR/log; orders use the original producer's distribution).
 * With SPAN_DAYS, created_at is spread evenly over the SPAN_DAYS days
 * before now (bench/query.sh); without, the orders are 1 ms apart from now.
 */
#include "broker/broker.h"
#include "core/catalog.h"
#include "core/order.h"
#include "core/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 10000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long pending;

static void on_ack(void *opaque, int err, int partition, int64_t offset)
{
    (void)opaque, (void)partition, (void)offset;
    if (err) {
        fprintf(stderr, "append failed: %s\n", broker_strerror(err));
        exit(1);
    }
    pthread_mutex_lock(&mu);
    if (--pending == 0)
        pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: log_fill DATA_DIR N [SEED [SPAN_DAYS]]\n");
        return 2;
    }
    long n = atol(argv[2]);
    uint64_t s = argc > 3 ? strtoull(argv[3], NULL, 10) * 2654435761u + 1 : 88172645463325252ull;
    char uri[4200], err[512];
    snprintf(uri, sizeof(uri), "file:%s/log", argv[1]);
    struct broker_conf bc = {.create = 1};
    struct broker *b = broker_open(uri, &bc, err, sizeof(err));
    if (!b) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    static struct broker_msg msgs[CHUNK];
    static char vals[CHUNK][SF_ORDER_JSON_MAX];
    int64_t now = sf_now_ms();
    int64_t span_ms = argc > 4 ? atoll(argv[4]) * 86400000LL : 0;
    for (long done = 0; done < n;) {
        long k = n - done < CHUNK ? n - done : CHUNK;
        for (long i = 0; i < k; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            struct order o = {.customer_id = (int64_t)(s % 17) + 1,
                              .source = (int)((s >> 8) % 3),
                              .quantity = (int64_t)((s >> 16) % 100) + 1,
                              .created_ms = span_ms ? now - span_ms + (int64_t)(
                                                (double)(done + i) / (double)n * (double)span_ms)
                                                    : now + done + i};
            o.total_cents = o.quantity * SF_DEFAULT_UNIT_PRICE_CENTS;
            uuid_v7(o.created_ms, o.order_id);
            struct sf_buf buf = {.data = vals[i], .cap = sizeof(vals[i]),
                                 .limit = sizeof(vals[i]) - 1};
            order_encode(&o, NULL, &buf);
            msgs[i] = (struct broker_msg){.key = o.customer_id, .value = vals[i],
                                          .len = buf.len};
        }
        pending = k;
        if (broker_produce_batch(b, msgs, (size_t)k, on_ack)) {
            fprintf(stderr, "produce failed\n");
            return 1;
        }
        pthread_mutex_lock(&mu);
        while (pending)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        done += k;
    }
    broker_close(b);
    printf("wrote %ld orders to %s/log\n", n, argv[1]);
    return 0;
}
