/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_NET_NETOPT_H
#define COHO_NET_NETOPT_H

#include "vm.h"

/*
 * Parse kvmtool's -n/--network argument: "none", or comma-separated
 * key=value pairs: mode=tap|none, tapif=NAME, guest_mac=XX:XX:XX:XX:XX:XX,
 * host_ip=A.B.C.D[/PREFIX], script=PATH|none, downscript=PATH|none,
 * vhost=0|1. mode defaults to tap (coho has no user-mode network). Device
 * @index picks the default MAC 02:43:4f:48:4f:<index>. Fills @nc, or sets
 * *@none for "none". -EINVAL with one line logged (naming @opt).
 */
int net_parse(const char *opt, const char *arg, u32 index, struct net_config *nc, bool *none);

#endif
