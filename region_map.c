// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>

#include "region_map.h"

#ifndef KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED
#define KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED 243
#endif

const char *mem_type_name(enum mem_type t)
{
	switch (t) {
	case MEM_NORMAL_NC:
		return "Normal-NC";
	case MEM_NORMAL_WB:
		return "Normal-WB";
	default:
		return "Device-nGnRE";
	}
}

const char *mem_type_policy(enum mem_type t)
{
	switch (t) {
	case MEM_NORMAL_NC:
		return "wc";
	case MEM_NORMAL_WB:
		return "cached";
	default:
		return "uc";
	}
}

/* A run of 1-4 decimal digits at *@s (no sign, no spaces); -1 if none. */
static long version_field(const char **s)
{
	long v = 0;
	int n = 0;

	while (isdigit((unsigned char)**s) && n < 4) {
		v = v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	return n && !isdigit((unsigned char)**s) ? v : -1;
}

/* "6.12.107+deb13-arm64" -> true if at least major.minor. Unparsable: false. */
static bool release_at_least(const char *rel, long major, long minor)
{
	long ma = version_field(&rel), mi;

	if (ma < 0 || *rel != '.')
		return false;
	rel++;
	mi = version_field(&rel);
	if (mi < 0)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

void region_map_probe(struct region_map_caps *c, int kvm_fd, const char *release)
{
	struct utsname u;

	memset(c, 0, sizeof(*c));
	if (!release)
		release = uname(&u) == 0 ? u.release : "";
	snprintf(c->release, sizeof(c->release), "%s", release);
	/*
	 * No capability announces it: Linux 6.9 ("KVM: arm64: Set io memory s2
	 * pte as normalnc for vfio pci device") maps VMAs flagged
	 * VM_ALLOW_ANY_UNCACHED, which vfio-pci sets on its BAR mmaps, as
	 * Normal-NC at stage 2; earlier kernels map every device PFN
	 * Device-nGnRE.
	 */
	c->s2_normal_nc = release_at_least(c->release, 6, 9);
	if (kvm_fd >= 0)
		c->s2_cacheable_pfnmap =
		    ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED) > 0;
	c->vmm_writecombine = false;
}

void region_map_decide(u32 flags, const struct region_map_caps *c, bool mmappable,
		       struct region_map_outcome *o)
{
	enum mem_type s2;

	memset(o, 0, sizeof(*o));
	o->wanted = flags & REGION_MAP_CACHED	      ? MEM_NORMAL_WB
		    : flags & REGION_MAP_WRITECOMBINE ? MEM_NORMAL_NC
						      : MEM_DEVICE;
	o->vmm = c->vmm_writecombine && o->wanted != MEM_DEVICE ? MEM_NORMAL_NC : MEM_DEVICE;
	if (!mmappable) {
		/* Trapped accesses are single uncached accesses made by the VMM. */
		o->how = REGION_TRAPPED;
		o->guest_max = MEM_DEVICE;
		o->exact = o->wanted == MEM_DEVICE;
		snprintf(o->why, sizeof(o->why), "the region cannot be mmapped");
		return;
	}
	/* Cacheable stage 2 also needs a cacheable VMM mapping: never for vfio-pci BARs. */
	s2 = c->s2_normal_nc ? MEM_NORMAL_NC : MEM_DEVICE;
	if (s2 > o->wanted) {
		o->how = REGION_TRAPPED;
		o->guest_max = MEM_DEVICE;
		o->exact = true;
		snprintf(o->why, sizeof(o->why),
			 "Linux %s maps vfio-pci BARs %s at stage 2, more than %s allows, so "
			 "accesses are trapped",
			 c->release, mem_type_name(s2), mem_type_policy(o->wanted));
		return;
	}
	o->how = REGION_MAPPED;
	o->guest_max = s2;
	o->exact = s2 == o->wanted;
	if (o->exact)
		snprintf(o->why, sizeof(o->why), "Linux %s maps vfio-pci BARs %s at stage 2",
			 c->release, mem_type_name(s2));
	else if (o->wanted == MEM_NORMAL_WB)
		snprintf(o->why, sizeof(o->why),
			 "cacheable stage 2 needs a cacheable VMM mapping (vfio-pci's is not)%s; "
			 "Linux %s gives %s",
			 c->s2_cacheable_pfnmap ? ""
						: " and KVM_CAP_ARM_CACHEABLE_PFNMAP_SUPPORTED",
			 c->release, mem_type_name(s2));
	else
		snprintf(
		    o->why, sizeof(o->why),
		    "Linux %s maps vfio-pci BARs Device-nGnRE at stage 2 (Normal-NC needs 6.9)",
		    c->release);
}
