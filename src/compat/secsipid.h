/*
 * secsipid.h - the libsecsipid drop-in's version header, as Debian's libsecsipid-dev
 * installs it: it includes the function declarations (libsecsipid.h) and says which
 * libsecsipid API it provides. Programs test SECSIPID_VERSION to use the key-data
 * functions (Kamailio 5.8+ compiles them only from 1.3.0 on).
 *
 * SECSIPID_VERSION = 0xAABBCC00 is version AA.BB.CC; the last two hex digits are
 * left for patch extensions.
 */
#ifndef __SECSIPID_H__
#define __SECSIPID_H__

#include "libsecsipid.h"

#define SECSIPID_VERSION 0x1030000

#endif
