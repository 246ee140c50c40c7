/* Work counters for the core's tables, so that tests can check how much a lookup or an
 * expiry really costs by counting instead of timing. A table points at a caller-owned
 * phn_counters, or at none (NULL, the default: one untaken branch per step). The counters
 * are plain integers: whoever shares one between tables also serialises their use. */
#ifndef PHN_COUNTERS_H
#define PHN_COUNTERS_H

#include <stdint.h>

typedef struct phn_counters {
    uint64_t probes;     /* hash slots examined by lookups */
    uint64_t heap_moves; /* expiry-heap entries written to a position */
} phn_counters;

#endif
