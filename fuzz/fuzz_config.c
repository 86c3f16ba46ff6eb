/*
 * fuzz_config — libFuzzer harness for config-file parsing
 * (src/core/config.c) and how args_parse applies a file's values to flags
 * (src/core/args.c), the way every command reads --config FILE.
 *
 * The input is the file's content (written to a memfd, read through its
 * /proc/self/fd path). Checks:
 *   - config_load with a key filter: never more than SF_CONFIG_MAX_ENTRIES
 *     entries, keys short, non-empty, known and without '=', line numbers
 *     increasing; each value is what the syntax says (config.h): unquoted
 *     values trimmed, and config_mask of each value fits its buffer and
 *     masks a value whose flag names a secret;
 *   - args_parse over a set of flags with every setter (string, int,
 *     int64, money, duration, bytes, switch, repeatable --kafka-opt), with
 *     --config naming the file: the values it sets stay readable after it
 *     returns, as the commands use them for the whole run.
 */
#include "broker/broker.h"
#include "core/args.h"
#include "core/config.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int known(const char *key, const void *arg)
{
    (void)arg;
    /* Any SALESFLOW_ name with a flag-like tail; "SALESFLOW_BAD" is not. */
    return strncmp(key, "SALESFLOW_", 10) == 0 && key[10] && strcmp(key + 10, "BAD");
}

static void check_entries(const struct config_file *cf)
{
    int prev_line = 0;
    if (cf->n > SF_CONFIG_MAX_ENTRIES)
        abort();
    for (size_t i = 0; i < cf->n; i++) {
        const struct config_entry *e = &cf->e[i];
        size_t kl = strnlen(e->key, sizeof(e->key));
        if (kl == 0 || kl >= sizeof(e->key) || !known(e->key, NULL) || strchr(e->key, '=') ||
            !e->value || e->line <= prev_line)
            abort();
        prev_line = e->line;
        /* The flag name of the key, as config_mask gets it. */
        char flag[64], out[128];
        size_t k = 0;
        for (const char *p = e->key + 10; *p && k + 1 < sizeof(flag); p++)
            flag[k++] = *p == '_' ? '-' : (char)(*p | 0x20);
        flag[k] = '\0';
        memset(out, 0x55, sizeof(out));
        config_mask(flag, e->value, out, sizeof(out));
        if (!memchr(out, '\0', sizeof(out)))
            abort();
        if ((strstr(flag, "key") || strstr(flag, "secret") || strstr(flag, "password") ||
             strstr(flag, "token")) && strcmp(out, "***"))
            abort();
    }
}

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512], path[64];
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    int fd = memfd_create("salesflow-config", 0);
    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

    struct config_file cf;
    if (config_load(&cf, path, known, NULL, err, sizeof(err)) == 0) {
        check_entries(&cf);
        config_free(&cf);
    } else if (!err[0] || cf.e || cf.n) {
        abort();
    }

    /* Every kind of flag, filled from the file. */
    const char *str = NULL, *data_dir = NULL;
    int threads = 0, yes = 0;
    int64_t count = 0, price = 0, retention = 0;
    uint64_t seg = 0;
    struct broker_conf bc = {0};
    const struct opt opts[] = {
        {"listen", "HOST:PORT", "", opt_str, &str},
        {"data", "DIR", "", opt_str, &data_dir},
        {"threads", "N", "", opt_int, &threads},
        {"count", "N", "", opt_int64, &count},
        {"unit-price", "AMOUNT", "", opt_money, &price},
        {"retention", "AGE", "", opt_duration, &retention},
        {"segment-bytes", "SIZE", "", opt_bytes, &seg},
        {"yes", NULL, "", opt_switch, &yes},
        {"kafka-opt", "KEY=VALUE", "", broker_opt_kafka, &bc},
    };
    char *argv[] = {"--config", path, NULL};
    FILE *saved = stderr;
    stderr = devnull; /* args_parse reports bad values on stderr */
    struct args a = {0};
    int rc = args_parse(&a, "fuzz", "", opts, SF_ARRAY_LEN(opts), 2, argv, NULL, 0, NULL);
    stderr = saved;
    if (rc != ARGS_OK && rc != ARGS_BAD)
        abort();
    if (rc == ARGS_OK) {
        /* The commands keep using these for the whole run. */
        volatile size_t sum = 0;
        if (str)
            sum += strlen(str);
        if (data_dir)
            sum += strlen(data_dir);
        for (size_t i = 0; i < bc.n_kafka_opts; i++)
            sum += strlen(bc.kafka_opts[i]);
        if ((str && !*str) || threads < 0 || count < 0 || price < 0 || retention < 0)
            abort();
        (void)sum;
    }
    args_free(&a);
    sf_log_setup("info", "logfmt"); /* undo a log-level / log-format line */
    close(fd);
    return 0;
}
