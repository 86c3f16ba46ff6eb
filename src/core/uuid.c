/*
 * uuid — UUIDv7 generation. The 12-bit rand_a field holds a counter that is
 * bumped when two ids share a millisecond (RFC 9562 §6.2 method 1), so ids
 * from one process are strictly increasing; rand_b comes from getrandom(),
 * drawn 512 bytes at a time into a per-thread pool (one system call per 64
 * ids instead of one each), and the text is written without printf.
 */
#include "core/uuid.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms = -1;
static uint32_t counter;

static _Thread_local struct {
    uint8_t bytes[512];
    size_t used;
} pool = {.used = sizeof(pool.bytes)};

static void random8(uint8_t *dst, int64_t ms)
{
    if (pool.used == sizeof(pool.bytes)) {
        if (getrandom(pool.bytes, sizeof(pool.bytes), 0) != (ssize_t)sizeof(pool.bytes)) {
            /* getrandom on Linux only fails before boot-time entropy (or on
             * a signal); fall back to the address of the stack and time. */
            uint64_t x = (uint64_t)(uintptr_t)dst ^ (uint64_t)ms * 0x9E3779B97F4A7C15ULL;
            memcpy(dst, &x, 8);
            return;
        }
        pool.used = 0;
    }
    memcpy(dst, pool.bytes + pool.used, 8);
    memset(pool.bytes + pool.used, 0, 8);   /* never hand out the same bytes */
    pool.used += 8;
}

void uuid_v7(int64_t ms, char out[SF_UUID_STRLEN + 1])
{
    uint8_t b[16];
    random8(b + 8, ms);
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
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
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
