// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arm64/layout.h"
#include "exit_codes.h"
#include "util/log.h"
#include "vm.h"

#define VCPU_STACK_SIZE (256 * 1024)

static int vm_open_kvm(struct vm *vm)
{
	int api, type, max;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int err = -errno;

		pr_err("cannot open /dev/kvm: %s", strerror(errno));
		return err;
	}
	api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		pr_err("KVM API version %d, expected %d", api, KVM_API_VERSION);
		return -ENOTSUP;
	}
	/* KVM_CAP_MAX_VCPUS is the hard limit; KVM_CAP_NR_VCPUS only a recommendation. */
	max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max > 0 && vm->cfg->nr_cpus > (u32)max) {
		pr_err("%u vCPUs requested, but this host's KVM supports at most %d",
		       vm->cfg->nr_cpus, max);
		return -EINVAL;
	}
	type = arch_vm_type(vm);
	if (type < 0)
		return type;
	do {
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, type);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		int err = -errno;

		pr_err("KVM_CREATE_VM: %s", strerror(errno));
		return err;
	}
	vm->run_size = (size_t)ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if ((long)vm->run_size <= 0) {
		pr_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -ENOTSUP;
	}
	return 0;
}

static int vm_add_ram(struct vm *vm)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = vm->mem.base,
		.memory_size = vm->mem.size,
		.userspace_addr = (u64)(uintptr_t)vm->mem.host,
	};

	if (vm->dry)
		return 0;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		int err = -errno;

		pr_err("cannot give %llu MiB of RAM to the guest: %s",
		       (unsigned long long)(vm->mem.size >> 20), strerror(errno));
		return err;
	}
	return 0;
}

int vm_map_device(struct vm *vm, u64 gpa, u64 size, void *hva)
{
	struct kvm_userspace_memory_region region = {
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (u64)(uintptr_t)hva,
	};
	int slot = -ENOSPC;

	pthread_mutex_lock(&vm->slots_lock);
	for (u32 i = 1; i < vm->max_slots && i < 64 * ARRAY_SIZE(vm->slots_used); i++) {
		if (!(vm->slots_used[i / 64] & (1ULL << (i % 64)))) {
			slot = (int)i;
			break;
		}
	}
	if (slot > 0) {
		region.slot = (u32)slot;
		if (!vm->dry && ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			slot = -errno;
		else
			vm->slots_used[slot / 64] |= 1ULL << (slot % 64);
	}
	pthread_mutex_unlock(&vm->slots_lock);
	return slot;
}

void vm_unmap_device(struct vm *vm, int slot)
{
	struct kvm_userspace_memory_region region = { .slot = (u32)slot, .memory_size = 0 };

	if (slot <= 0 || (u32)slot >= 64 * ARRAY_SIZE(vm->slots_used))
		return;
	pthread_mutex_lock(&vm->slots_lock);
	if (vm->slots_used[slot / 64] & (1ULL << (slot % 64))) {
		/* memory_size 0 deletes the slot (KVM API, KVM_SET_USER_MEMORY_REGION). */
		if (!vm->dry && ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			pr_err("cannot remove memory slot %d: %s", slot, strerror(errno));
		vm->slots_used[slot / 64] &= ~(1ULL << (slot % 64));
	}
	pthread_mutex_unlock(&vm->slots_lock);
}

static int vm_create_vcpu(struct vm *vm, struct vcpu *v, u32 id)
{
	v->vm = vm;
	v->id = id;
	v->fd = -1;
	if (!vm->dry) {
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
		if (v->fd < 0) {
			int err = -errno;

			pr_err("cannot create vCPU %u: %s", id, strerror(errno));
			return err;
		}
		v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			int err = -errno;

			v->run = NULL;
			pr_err("cannot map vCPU %u state: %s", id, strerror(errno));
			return err;
		}
	}
	return arch_vcpu_init(vm, v);
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	int ret;
	u32 i;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm_fd = -1;
	vm->vm_fd = -1;
	vm->arch.gic_fd = -1;
	vm->arch.its_fd = -1;
	vm->event_efd = -1;
	vm->dry = !arch_kvm_supported();
	irq_routes_init(&vm->irq);
	pthread_mutex_init(&vm->slots_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->max_slots = 32; /* KVM's minimum; KVM_CAP_NR_MEMSLOTS may raise it */
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return -errno;
	vm->event_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->event_efd < 0)
		return -errno;

	if (cfg->ram_size > ARM_RAM_MAX) {
		pr_err("memory size %llu MiB is larger than the %llu MiB this machine can address",
		       (unsigned long long)(cfg->ram_size >> 20),
		       (unsigned long long)(ARM_RAM_MAX >> 20));
		return -EINVAL;
	}
	if (!vm->dry) {
		ret = vm_open_kvm(vm);
		if (ret)
			return ret;
	}
	if (!vm->dry) {
		int n = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);

		if (n > 0)
			vm->max_slots = (u32)n;
	}
	ret = guest_mem_init(&vm->mem, ARM_RAM_BASE, cfg->ram_size);
	if (ret) {
		pr_err("cannot allocate %llu MiB of guest RAM: %s",
		       (unsigned long long)(cfg->ram_size >> 20), strerror(-ret));
		return ret;
	}
	ret = vm_add_ram(vm);
	if (ret)
		return ret;

	vm->vcpus = calloc(cfg->nr_cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (i = 0; i < cfg->nr_cpus; i++) {
		ret = vm_create_vcpu(vm, &vm->vcpus[i], i);
		vm->nr_vcpus = i + 1;
		if (ret)
			return ret;
	}
	return arch_irqchip_create(vm);
}

/* SIGUSR1 only kicks a vCPU thread out of KVM_RUN (EINTR); it does nothing else. */
static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vm_start_vcpus(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };
	pthread_attr_t attr;
	u32 i;

	if (vm->dry) {
		pr_err("this coho build cannot run arm64 guests (it needs an arm64 host with KVM)");
		return -ENOTSUP;
	}
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must return EINTR. */
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return -errno;
	/*
	 * A vCPU thread needs little stack. The default 8 MiB mapping is big
	 * enough for a transparent huge page, which a host with THP "always"
	 * would back with 2 MiB of RAM per vCPU on first touch.
	 */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
	for (i = 0; i < vm->nr_vcpus; i++) {
		int ret = pthread_create(&vm->vcpus[i].thread, &attr, vcpu_thread, &vm->vcpus[i]);

		if (ret) {
			pthread_attr_destroy(&attr);
			pr_err("cannot start vCPU %u thread: %s", i, strerror(ret));
			vm_request_stop(vm, COHO_EXIT_VMM_ERROR);
			return -ret;
		}
		vm->vcpus[i].thread_started = true;
	}
	pthread_attr_destroy(&attr);
	return 0;
}

int vm_add_fdt_hook(struct vm *vm, int (*fn)(void *fdt, u32 gic_phandle, void *opaque),
		    void *opaque)
{
	if (vm->nr_fdt_hooks == VM_MAX_FDT_HOOKS)
		return -ENOSPC;
	vm->fdt_hooks[vm->nr_fdt_hooks++] = (struct fdt_hook){ fn, opaque };
	return 0;
}

bool vm_is_stopping(struct vm *vm)
{
	return __atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE);
}

void vm_request_stop(struct vm *vm, int exit_code)
{
	u64 one = 1;
	int expected = 0;
	u32 i;

	if (!__atomic_compare_exchange_n(&vm->stopping, &expected, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	vm->exit_code = exit_code;
	/*
	 * immediate_exit makes a KVM_RUN that has not entered the guest yet
	 * return at once; the signal kicks out one that already has.
	 */
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
		if (v->thread_started && !pthread_equal(v->thread, pthread_self()))
			pthread_kill(v->thread, SIGUSR1);
	}
	if (write(vm->stop_efd, &one, sizeof(one)) < 0)
		pr_debug("stop eventfd: %s", strerror(errno));
	/* Paused vCPUs wake up to leave. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

int vm_reset_vcpus(struct vm *vm)
{
	u64 v;
	int ret;

	if (vm->dry)
		return -ENOTSUP;
	/* Every vCPU thread has been joined: nobody reads these now. */
	while (read(vm->stop_efd, &v, sizeof(v)) == sizeof(v))
		;
	vm->exit_code = 0;
	vm->paused = false;
	__atomic_store_n(&vm->panic_ns, 0, __ATOMIC_RELEASE);
	for (u32 i = 0; i < vm->nr_vcpus; i++) {
		vm->vcpus[i].run->immediate_exit = 0;
		/* KVM_ARM_VCPU_INIT again: registers to their reset values, secondaries off. */
		ret = arch_vcpu_init(vm, &vm->vcpus[i]);
		if (ret)
			return ret;
	}
	ret = arch_irqchip_reset(vm);
	if (ret)
		return ret;
	__atomic_store_n(&vm->stopping, 0, __ATOMIC_RELEASE);
	return 0;
}

static void kick_vcpus(struct vm *vm)
{
	for (u32 i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
		if (v->thread_started)
			pthread_kill(v->thread, SIGUSR1);
	}
}

int vm_pause(struct vm *vm)
{
	u32 started = 0, tries = 0;
	int ret = 0;

	for (u32 i = 0; i < vm->nr_vcpus; i++)
		started += vm->vcpus[i].thread_started;
	pthread_mutex_lock(&vm->pause_lock);
	vm->paused = true;
	/* Kick until every running vCPU thread waits (one may be just entering KVM_RUN). */
	while (vm->nr_paused < started && !vm_is_stopping(vm)) {
		/*
		 * 2 s: a vCPU stuck in a device (console output to a reader that
		 * stopped reading) must not hang the caller, the main loop.
		 */
		if (++tries > 200) {
			vm->paused = false;
			pthread_cond_broadcast(&vm->pause_cond);
			ret = -EBUSY;
			break;
		}
		struct timespec ts;

		kick_vcpus(vm);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &ts);
	}
	pthread_mutex_unlock(&vm->pause_lock);
	return ret;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->paused = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vcpu_pause_point(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if (!__atomic_load_n(&vm->paused, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&vm->pause_lock);
	vm->nr_paused++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm->paused && !vm_is_stopping(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->nr_paused--;
	/* The pause kick set immediate_exit; a stop request keeps it set. */
	if (!vm_is_stopping(vm))
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_join_vcpus(struct vm *vm)
{
	u32 i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->thread_started)
			continue;
		/* A vCPU may have been between the check and KVM_RUN: kick until it leaves. */
		while (pthread_tryjoin_np(v->thread, NULL) == EBUSY) {
			pthread_kill(v->thread, SIGUSR1);
			usleep(1000);
		}
		v->thread_started = false;
	}
}

void vm_destroy(struct vm *vm)
{
	u32 i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			munmap(v->run, vm->run_size);
		if (v->fd >= 0)
			close(v->fd);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
	if (vm->arch.its_fd >= 0)
		close(vm->arch.its_fd);
	if (vm->arch.gic_fd >= 0)
		close(vm->arch.gic_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	guest_mem_destroy(&vm->mem);
	mmio_bus_free(&vm->mmio);
	irq_routes_free(&vm->irq);
	pthread_mutex_destroy(&vm->slots_lock);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	vm->stop_efd = -1;
	if (vm->event_efd >= 0)
		close(vm->event_efd);
	vm->event_efd = -1;
}
