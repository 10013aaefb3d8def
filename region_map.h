/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_REGION_MAP_H
#define COHO_REGION_MAP_H

#include <stddef.h>

#include "util/types.h"

/*
 * Device memory (a passed-through BAR) mapped into the guest, with an
 * explicit memory type.
 *
 * On arm64 the type a guest access gets is the stricter of its own stage-1
 * type and the hypervisor's stage-2 type (ARM ARM, "Combining the stage 1
 * and stage 2 memory attributes"). A policy names the most permissive type
 * the guest may end up with; the request is one flag, as a write-combine
 * mmap flag would be, and this layer decides what the running kernel can
 * actually give:
 *
 * - The VMM's own mmap of a vfio-pci region is always Device (no
 *   write-combining mmap uAPI exists for VFIO regions), so the flags cannot
 *   change the VMM side; it is reported.
 * - Stage 2 for such a mapping is chosen by KVM: Device-nGnRE before
 *   Linux 6.9; from 6.9 Normal-NC for vfio-pci BARs (their VMAs carry
 *   VM_ALLOW_ANY_UNCACHED), so the guest's own choice (Device or
 *   write-combining Normal-NC) takes effect. Cacheable stage 2 needs
 *   KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED *and* a cacheable VMM mapping,
 *   which vfio-pci BARs never have.
 *
 * When the direct mapping would give the guest more than the policy allows
 * (uc with Normal-NC at stage 2), the region is trapped instead: every
 * access is then one exact, uncached access performed by the VMM. When it
 * gives less, the region is mapped and the shortfall reported. The outcome
 * never claims more than what was obtained.
 */

/* Memory types, from the strictest. */
enum mem_type {
	MEM_DEVICE,    /* Device-nGnRE: no gathering, no speculation */
	MEM_NORMAL_NC, /* Normal Non-cacheable: write-combining */
	MEM_NORMAL_WB, /* Normal Write-Back cacheable */
};

/* Request flags: the most permissive type the guest may use (none: Device). */
#define REGION_MAP_WRITECOMBINE (1U << 0)
#define REGION_MAP_CACHED	(1U << 1)

/* What the running kernel offers, probed once. */
struct region_map_caps {
	char release[65];	  /* uname -r */
	bool s2_normal_nc;	  /* Linux >= 6.9: vfio-pci BARs are Normal-NC at stage 2 */
	bool s2_cacheable_pfnmap; /* KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED */
	bool vmm_writecombine;	  /* a write-combining mmap of VFIO regions (no uAPI yet) */
};

enum region_map_how {
	REGION_MAPPED,	/* a KVM memory slot: no exits */
	REGION_TRAPPED, /* MMIO exits, each access forwarded by the VMM */
};

struct region_map_outcome {
	enum region_map_how how;
	enum mem_type wanted;
	enum mem_type guest_max; /* the most permissive type the guest can get */
	enum mem_type vmm;	 /* the VMM's own mapping */
	bool exact;		 /* guest_max == wanted */
	char why[320];
};

/*
 * Fill @c from the kernel release @release (NULL: uname) and, if @kvm_fd
 * >= 0, KVM's capabilities.
 */
void region_map_probe(struct region_map_caps *c, int kvm_fd, const char *release);

/*
 * Decide how a region requested with @flags is mapped: @mmappable says
 * whether the region can be mmapped at all. Pure: no system calls.
 */
void region_map_decide(u32 flags, const struct region_map_caps *c, bool mmappable,
		       struct region_map_outcome *o);

/* "Device-nGnRE", "Normal-NC", "Normal-WB". */
const char *mem_type_name(enum mem_type t);
/* The policy's name for a type: "uc", "wc", "cached". */
const char *mem_type_policy(enum mem_type t);

#endif
