/* phn_optable with bulk operations: fuzz_optable.c built with FUZZ_OPTABLE_BULK, so that
 * inputs reach the sharded table (tens of thousands of entries). Slow per input, so kept
 * apart from the fast optable target. */
#define FUZZ_OPTABLE_BULK 1
#include "fuzz_optable.c"
