/*
 * fuzz_order_decode — libFuzzer harness for the log/Kafka message decoder.
 * Differential: order_decode (fast scanner first) must give exactly what
 * order_decode_general (jansson only) gives, for any bytes: same success or
 * failure, and on success the same order field by field. The one allowed
 * difference: a decimal total of 2^50 cents or more, which only the fast
 * path decodes exactly (the general path refuses it).
 */
#include "core/order.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct order a, b;
    int ta, tb;
    char ea[256], eb[256];
    int ra = order_decode((const char *)data, size, NULL, &a, &ta, ea, sizeof(ea));
    int rb = order_decode_general((const char *)data, size, NULL, &b, &tb, eb, sizeof(eb));
    if (ra == 0 && rb != 0 && ta && a.total_cents >= (INT64_C(1) << 50))
        return 0;
    if (ra != rb)
        abort();
    if (ra == 0 && (ta != tb || a.customer_id != b.customer_id || a.source != b.source ||
                    a.quantity != b.quantity || (ta && a.total_cents != b.total_cents) ||
                    a.created_ms != b.created_ms || strcmp(a.order_id, b.order_id)))
        abort();
    return 0;
}
