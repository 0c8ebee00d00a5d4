/* Dependent-load latency by working-set size: the cost of one cache miss that the next
 * load has to wait for, as a lookup's chain (slot, group, row, person, text) pays it.
 *
 *     cc -O2 -o memlat bench/memlat.c && ./memlat 1 4 12 24
 *
 * For each size in MiB: one pointer per 64-byte line, linked in one random cycle
 * (Sattolo's shuffle), then 20 million loads each of which needs the previous one's
 * value.  Prints nanoseconds per load.  bench/memlat.py builds and runs it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LINE_WORDS 8 /* uint64_t per 64-byte cache line */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next_random(void) { /* xorshift64: rand() is too short for 4 M lines */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int probe(size_t mib, long loads) {
    size_t lines = mib * 1024 * 1024 / 64;
    if (lines < 2) {
        fprintf(stderr, "memlat: a working set of %zu MiB is too small\n", mib);
        return 1;
    }
    uint64_t *mem = aligned_alloc(64, lines * 64);
    size_t *order = malloc(lines * sizeof(size_t));
    if (mem == NULL || order == NULL) {
        fprintf(stderr, "memlat: cannot allocate %zu MiB\n", mib);
        free(mem);
        free(order);
        return 1;
    }
    for (size_t i = 0; i < lines; i++)
        order[i] = i;
    for (size_t i = lines - 1; i > 0; i--) { /* Sattolo: one cycle through every line */
        size_t j = (size_t)(next_random() % i);
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < lines; i++)
        mem[order[i] * LINE_WORDS] = order[(i + 1) % lines] * LINE_WORDS;
    uint64_t at = 0;
    for (long i = 0; i < loads / 10; i++) /* warm the caches and the page tables */
        at = mem[at];
    double started = seconds();
    for (long i = 0; i < loads; i++)
        at = mem[at];
    double took = seconds() - started;
    printf("%zu %.1f %llu\n", mib, took / (double)loads * 1e9, (unsigned long long)(at & 1));
    free(order);
    free(mem);
    return 0;
}

int main(int argc, char **argv) {
    for (int k = 1; k < argc; k++)
        if (probe((size_t)strtoul(argv[k], NULL, 10), 20000000L) != 0)
            return 1;
    return 0;
}
