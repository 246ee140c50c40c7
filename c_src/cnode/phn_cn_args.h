/* Command line of phn_cnode. Only identity and limits: the cookie is refused here. */
#ifndef PHN_CN_ARGS_H
#define PHN_CN_ARGS_H

#include "phn_cn_config.h"

/* Fills c from argv (after defaults). 0, or -1 with a message on stderr. */
int phn_cn_args_parse(phn_cn_config *c, int argc, char **argv);

#endif
