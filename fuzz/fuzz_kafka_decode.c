/*
 * fuzz_kafka_decode — libFuzzer harness for the processor's decode of one
 * log or Kafka record (processor_decode_topic, which kafka.c's records and
 * the embedded log's both go through): order_decode's fast and general
 * paths, the original producer's format, the deterministic order_id derived
 * from (topic, partition, offset) for a message without one, and pricing of
 * a message without a total.
 *
 * Input: byte 0 picks the topic, bytes 1-2 the partition, bytes 3-10 the
 * offset (little-endian), the rest is the message value. Checks: decoding
 * is deterministic; a decoded row has a source in the catalog, an order_id
 * of 1..64 bytes, a state, and (for a message without order_id) exactly
 * order_derive_id_msg's UUIDv8; on success the general (jansson-only) decoder
 * agrees field by field, apart from the derived id and pricing it does not
 * do (and decimal totals of 2^50 cents or more, see fuzz_order_decode.c).
 */
#include "core/order.h"
#include "process/processor.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct catalog *cat;

static const char *const topics[] = {"Order", "orders", "sales.orders-v2", ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256], err2[256];
    if (!cat && !(cat = catalog_load(NULL, 30000, err, sizeof(err))))
        abort();
    if (size < 11)
        return 0;
    const char *topic = topics[data[0] % 4];
    struct broker_record rec = {0};
    rec.partition = (int)(data[1] | (data[2] << 8)) - 1; /* -1 .. 65534 */
    uint64_t off = 0;
    for (int i = 0; i < 8; i++)
        off |= (uint64_t)data[3 + i] << (8 * i);
    rec.offset = (int64_t)off;
    rec.timestamp_ms = 1795923600123;
    /* A copy of exactly the value's bytes, so ASan sees any over-read. */
    size_t len = size - 11;
    char *value = malloc(len ? len : 1);
    if (!value)
        return 0;
    memcpy(value, data + 11, len);
    rec.value = value;
    rec.len = len;

    struct store_order a, b;
    memset(&a, 0x5a, sizeof(a));
    memset(&b, 0xa5, sizeof(b));
    int ra = processor_decode_topic(&rec, topic, cat, &a, err, sizeof(err));
    int rb = processor_decode_topic(&rec, topic, cat, &b, err2, sizeof(err2));
    if (ra != rb)
        abort();
    if (ra == 0) {
        if (memcmp(&a.o, &b.o, sizeof(a.o)) || strcmp(a.state, b.state) ||
            a.log_time_ms != b.log_time_ms)
            abort();
        size_t idlen = strnlen(a.o.order_id, sizeof(a.o.order_id));
        if (idlen == 0 || idlen > SF_ORDER_ID_MAX || a.o.source < 0 ||
            (size_t)a.o.source >= catalog_source_count(cat) || a.o.quantity < 0 ||
            !a.state[0] || a.log_time_ms != rec.timestamp_ms)
            abort();
        struct order g;
        int has_total;
        int rg = order_decode_general(value, len, cat, &g, &has_total, err2, sizeof(err2));
        if (rg == 0) {
            if (g.customer_id != a.o.customer_id || g.source != a.o.source ||
                g.quantity != a.o.quantity || g.created_ms != a.o.created_ms)
                abort();
            if (has_total && g.total_cents != a.o.total_cents)
                abort();
            if (g.order_id[0] && strcmp(g.order_id, a.o.order_id))
                abort();
            if (!g.order_id[0]) {
                char want[SF_UUID_STRLEN + 1];
                order_derive_id_msg(topic, rec.partition, rec.offset, rec.timestamp_ms,
                                    rec.value, rec.len, want);
                if (strcmp(want, a.o.order_id))
                    abort();
            }
            if (!has_total && a.o.total_cents != a.o.quantity * catalog_unit_price(cat))
                abort();
        } else if (!(a.o.total_cents >= (INT64_C(1) << 50))) {
            abort(); /* the fast path took what the general path refuses */
        }
    }
    free(value);
    return 0;
}
