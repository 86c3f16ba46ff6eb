/* Shared by bench/json_parse.c and bench/json_parse_jsonc.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct line {
    const char *s;
    size_t n;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, size_t orders, double secs, long check)
{
    printf("%-46s %8.0f ns/order  %10.0f orders/s  (check %ld)\n", what,
           secs * 1e9 / (double)orders, (double)orders / secs, check);
}

/* The non-empty lines of FILE (argv[1]) and the rounds (argv[2], default
 * 200); exits with a message on a usage or read error. */
static struct line *read_lines(int argc, char **argv, size_t *nl, int *rounds)
{
    static char text[1 << 24];
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE.ndjson [ROUNDS]\n", argv[0]);
        exit(2);
    }
    *rounds = argc > 2 ? atoi(argv[2]) : 200;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        exit(1);
    }
    size_t len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    struct line *lines = malloc(sizeof(*lines) * (len / 8 + 1));
    *nl = 0;
    for (char *p = text, *end = text + len; lines && p < end;) {
        char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e)
            e = end;
        if (e > p)
            lines[(*nl)++] = (struct line){p, (size_t)(e - p)};
        p = e + 1;
    }
    if (!lines || !*nl) {
        fprintf(stderr, "%s: no lines in %s\n", argv[0], argv[1]);
        exit(1);
    }
    return lines;
}
