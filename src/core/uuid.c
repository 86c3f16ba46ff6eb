/*
 * uuid — UUIDv7 generation. The 12-bit rand_a field holds a counter that is
 * bumped when two ids share a millisecond (RFC 9562 §6.2 method 1), so ids
 * from one process are strictly increasing; rand_b comes from getrandom().
 */
#include "core/uuid.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms = -1;
static uint32_t counter;

void uuid_v7(int64_t ms, char out[SF_UUID_STRLEN + 1])
{
    uint8_t b[16];
    if (getrandom(b + 8, 8, 0) != 8) {
        /* getrandom on Linux only fails for tiny buffers before boot-time
         * entropy; fall back to the address of the stack and time. */
        uint64_t x = (uint64_t)(uintptr_t)b ^ (uint64_t)ms * 0x9E3779B97F4A7C15ULL;
        memcpy(b + 8, &x, 8);
    }
    pthread_mutex_lock(&lock);
    if (ms <= last_ms) {
        ms = last_ms;
        if (++counter > 0xFFF) { /* counter exhausted: borrow the next ms */
            ms = ++last_ms;
            counter = 0;
        }
    } else {
        last_ms = ms;
        counter = 0;
    }
    uint32_t c = counter;
    pthread_mutex_unlock(&lock);

    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)((uint64_t)ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (c >> 8));
    b[7] = (uint8_t)c;
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3F));
    snprintf(out, SF_UUID_STRLEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
}

int uuid_valid(const char *s)
{
    for (int i = 0; i < SF_UUID_STRLEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return s[SF_UUID_STRLEN] == '\0';
}
