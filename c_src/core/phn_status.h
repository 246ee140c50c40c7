/* Status codes shared by every core function that can fail. Negative values are errors so
 * that functions returning a count or a flag (0/1) can share the int return channel. */
#ifndef PHN_STATUS_H
#define PHN_STATUS_H

typedef enum phn_status {
    PHN_OK = 0,
    PHN_ENOMEM = -1,    /* an allocation failed; the structure is unchanged */
    PHN_EEXIST = -2,    /* the key is already present */
    PHN_ELIMIT = -3,    /* a configured cap was reached */
    PHN_ENOTFOUND = -4, /* the key is absent */
    PHN_EINVAL = -5,    /* an argument is out of range */
} phn_status;

#endif
