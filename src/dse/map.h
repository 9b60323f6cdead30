/* dse/map.h - a growable open-addressing map from 64-bit keys to slots
 * (the search's caches of timed kernel groups and resource estimates).
 * Internal to src/dse. */
#ifndef LLX_DSE_MAP_H
#define LLX_DSE_MAP_H

#include <stdint.h>

typedef struct dse_map {
    uint64_t *key;
    int *val;
    long cap, n;
} dse_map;

/* the slot of key, or -1 */
int dse_map_get(const dse_map *m, uint64_t key);
/* insert key -> val (key not present); -1 when out of memory */
int dse_map_put(dse_map *m, uint64_t key, int val);
void dse_map_free(dse_map *m);

#endif
