/* dse/map.c - open addressing with linear probing; the table doubles at
 * half load.  Values are >= 0; an empty cell holds -1. */
#include <stdlib.h>

#include "dse/map.h"

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

int dse_map_get(const dse_map *m, uint64_t key)
{
    if (!m->cap) return -1;
    for (long i = (long)(mix(key) & (uint64_t)(m->cap - 1));; i = (i + 1) & (m->cap - 1)) {
        if (m->val[i] < 0) return -1;
        if (m->key[i] == key) return m->val[i];
    }
}

static void place(uint64_t *keys, int *vals, long cap, uint64_t key, int val)
{
    long i = (long)(mix(key) & (uint64_t)(cap - 1));
    while (vals[i] >= 0) i = (i + 1) & (cap - 1);
    keys[i] = key, vals[i] = val;
}

int dse_map_put(dse_map *m, uint64_t key, int val)
{
    if (2 * (m->n + 1) > m->cap) {
        long nc = m->cap ? 2 * m->cap : 64;
        uint64_t *k = malloc(sizeof *k * (size_t)nc);
        int *v = malloc(sizeof *v * (size_t)nc);
        if (!k || !v) {
            free(k), free(v);
            return -1;
        }
        for (long i = 0; i < nc; i++) v[i] = -1;
        for (long i = 0; i < m->cap; i++)
            if (m->val[i] >= 0) place(k, v, nc, m->key[i], m->val[i]);
        free(m->key), free(m->val);
        m->key = k, m->val = v, m->cap = nc;
    }
    place(m->key, m->val, m->cap, key, val);
    m->n++;
    return 0;
}

void dse_map_free(dse_map *m)
{
    free(m->key), free(m->val);
    m->key = NULL, m->val = NULL, m->cap = m->n = 0;
}
