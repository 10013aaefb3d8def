/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_VM_H
#define COHO_VM_H

#include <pthread.h>

#include "arm64/arch.h"
#include "console_out.h"
#include "guest_mem.h"
#include "irq.h"
#include "mmio_bus.h"
#include "util/types.h"

enum irqchip_kind {
	IRQCHIP_AUTO, /* best available: GICv3 + ITS, GICv3, GICv2 */
	IRQCHIP_GICV3,
	IRQCHIP_GICV3_ITS,
	IRQCHIP_GICV2,
};

#define VM_MAX_DISKS 8

#define VM_MAX_SHARES 8

#define VM_MAX_NETS 4

/* -n mode=tap: a virtio-net device backed by a host tap interface. */
struct net_config {
	char tapif[16];		/* IFNAMSIZ; empty: the kernel picks tapN */
	const char *script;	/* run with the tap name once it exists; NULL: none */
	const char *downscript; /* run before the tap is closed; NULL: none */
	u8 guest_mac[6];
	u32 host_ip; /* network order; 0: leave the tap's address alone */
	u32 host_prefix;
	bool vhost; /* vhost=1: the data path runs in the host kernel */
	char *buf;  /* the parsed option text the strings point into */
};

struct share_config {
	const char *dir;
	const char *tag;
	bool read_only;
};

enum virtio_transport_kind {
	VIRTIO_TRANSPORT_PCI,  /* virtio-pci modern on the virtio host bridge */
	VIRTIO_TRANSPORT_MMIO, /* virtio-mmio v2, one DT node per device */
};

enum console_kind {
	CONSOLE_SERIAL, /* 8250 UART, ttyS0 */
	CONSOLE_VIRTIO, /* virtio-console, hvc0 */
};

struct disk_config {
	const char *path;
	bool read_only;
	bool direct; /* O_DIRECT: bypass the host page cache */
};

#define VM_MAX_VFIO 8

/* Memory-attribute policy of a passed-through BAR: the most permissive type allowed. */
enum bar_attr {
	BAR_ATTR_DEFAULT, /* wc if prefetchable, else uc */
	BAR_ATTR_UC,
	BAR_ATTR_WC,
	BAR_ATTR_CACHED,
};

/* --vfio-pci BDF[,coherent=on|off][,barN=uc|wc|cached] */
struct vfio_config {
	char bdf[16]; /* canonical DDDD:BB:DD.F */
	int coherent; /* -1: follow the host, 0: off, 1: on */
	enum bar_attr bar[6];
};

/* Everything `coho run` was asked to do; filled by builtin-run.c only. */
struct vm_config {
	const char *name;
	const char *kernel;
	const char *initrd;
	const char *firmware;
	const char *params;
	const char *dump_dtb;
	u64 ram_size;
	u32 nr_cpus;
	enum irqchip_kind irqchip;
	bool debug;
	bool rng; /* virtio-rng */
	enum console_kind console;
	enum virtio_transport_kind transport;
	struct disk_config disks[VM_MAX_DISKS];
	u32 nr_disks;
	struct share_config shares[VM_MAX_SHARES];
	u32 nr_shares;
	struct net_config nets[VM_MAX_NETS];
	u32 nr_nets;
	struct vfio_config vfio[VM_MAX_VFIO];
	u32 nr_vfio;
	const char *console_log; /* --console-log FILE */
	u64 timeout_ms;		 /* --timeout: 0 = none */
	bool no_reboot;		 /* --no-reboot: a guest reboot ends coho (exit 3) */
	u32 reboot_limit;	 /* --reboot-limit: 0 = no limit */
	bool root_9p;		 /* a -d DIR: its 9p share (tag /dev/root) is the root fs */
	bool root_ro;		 /* ... mounted read-only */
};

struct kvm_run;

/* A device's contribution to the device tree, written after every device exists. */
struct fdt_hook {
	int (*fn)(void *fdt, u32 gic_phandle, void *opaque);
	void *opaque;
};
#define VM_MAX_FDT_HOOKS 16

struct vcpu {
	struct vm *vm;
	u32 id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	u64 mpidr;
};

struct vm {
	const struct vm_config *cfg;
	int kvm_fd;
	int vm_fd;
	bool dry; /* no KVM: everything but running vCPUs (--dump-dtb on any host) */
	struct guest_mem mem;
	struct mmio_bus mmio;
	struct vcpu *vcpus;
	u32 nr_vcpus;
	size_t run_size;
	struct arch_vm arch;
	struct irq_routes irq;
	struct console_out console; /* the guest's console output (console_out.h) */
	struct fdt_hook fdt_hooks[VM_MAX_FDT_HOOKS];
	u32 nr_fdt_hooks;

	/* Memory slots beyond RAM's (slot 0): device memory mapped by vm_map_device(). */
	pthread_mutex_t slots_lock;
	u64 slots_used[8]; /* bit n: slot n taken */
	u32 max_slots;

	/* coho pause / resume: vCPU threads wait on pause_cond while paused. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool paused;
	u32 nr_paused; /* vCPU threads waiting */

	int stop_efd;  /* readable once the VM is stopping */
	int event_efd; /* wakes the supervisor: something to look at (a panic began) */
	u64 panic_ns;  /* CLOCK_MONOTONIC when the guest's panic report began; 0: none */
	int exit_code; /* first stop reason wins */
	int stopping;  /* atomic */
};

/* Open KVM, create the VM, its RAM, its vCPUs and the interrupt controller. */
int vm_create(struct vm *vm, const struct vm_config *cfg);
void vm_destroy(struct vm *vm);

/* Start one thread per vCPU. */
int vm_start_vcpus(struct vm *vm);
/* Ask every vCPU to stop; the first caller's @exit_code is kept. Thread-safe. */
void vm_request_stop(struct vm *vm, int exit_code);
bool vm_is_stopping(struct vm *vm);
/*
 * Stop every vCPU (they wait in their threads, off KVM_RUN) and return
 * once all have; resume lets them go on. Devices keep running. For the
 * control socket (coho pause / resume / debug); the main thread only.
 */
int vm_pause(struct vm *vm); /* -EBUSY (and not paused) if a vCPU did not stop within 2 s */
void vm_resume(struct vm *vm);
/* In a vCPU thread, before KVM_RUN: wait while the VM is paused. */
void vcpu_pause_point(struct vcpu *v);

/* Join the vCPU threads (after vm_request_stop). */
void vm_join_vcpus(struct vm *vm);
/*
 * For a guest reboot, after vm_join_vcpus(): every vCPU back to its reset
 * state, the interrupt controller's ITS emptied, the stop request cleared.
 * The boot images are loaded again by the caller.
 */
int vm_reset_vcpus(struct vm *vm);

/*
 * Map @size bytes of host memory at @hva (a device region the VMM mmapped)
 * into the guest at @gpa as a KVM memory slot, so guest accesses go to it
 * without exits. Returns the slot (>= 1) or -errno (-ENOSPC: no slot left,
 * -EEXIST: overlaps another slot). @gpa, @size and @hva must be page aligned.
 */
int vm_map_device(struct vm *vm, u64 gpa, u64 size, void *hva);
/* Remove a slot from vm_map_device(); accesses trap (MMIO exits) again. */
void vm_unmap_device(struct vm *vm, int slot);

/* Add a DT node writer (see arm64/fdt.h add_nodes for the rules). -ENOSPC. */
int vm_add_fdt_hook(struct vm *vm, int (*fn)(void *fdt, u32 gic_phandle, void *opaque),
		    void *opaque);

/* The vCPU thread body (vcpu.c). */
void *vcpu_thread(void *arg);

#endif
