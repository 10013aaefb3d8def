/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_NET_TAP_H
#define COHO_NET_TAP_H

#include <net/if.h>

#include "util/types.h"

/*
 * A host tap interface for one virtio-net device. Frames carry a 12-byte
 * virtio-net header (virtio 1.x layout, IFF_VNET_HDR), so offloads pass
 * straight through. If coho created the interface it is not persistent:
 * the kernel removes it when the last descriptor closes, even if coho is
 * killed.
 */
struct tap {
	int fd;
	char name[IFNAMSIZ];
	bool created; /* the interface did not exist before */
	const char *downscript;
};

struct tap_config {
	const char *name; /* NULL or "": the kernel picks tapN */
	const char *script;
	const char *downscript;
	u32 host_ip; /* network order, 0: none */
	u32 host_prefix;
};

/* Open (creating if needed) and configure the tap. -errno with one line logged. */
int tap_open(struct tap *t, const struct tap_config *cfg);
/* Tell the tap which offloads the reader (the guest) accepts: TUN_F_* bits. */
int tap_set_offload(struct tap *t, unsigned int tun_flags);
/* Run the downscript, then close (which removes a tap coho created). */
void tap_close(struct tap *t);

#endif
