// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>

#include "exit_codes.h"
#include "util/log.h"
#include "vm.h"

static void vcpu_handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	mmio_bus_access(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			run->mmio.is_write);
}

static void vcpu_handle_system_event(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		pr_debug("vCPU %u: guest powered off", v->id);
		vm_request_stop(v->vm, COHO_EXIT_POWEROFF);
		break;
	case KVM_SYSTEM_EVENT_RESET: {
		bool panicked = __atomic_load_n(&v->vm->panic_ns, __ATOMIC_ACQUIRE);

		pr_debug("vCPU %u: guest asked for a reset%s", v->id,
			 panicked ? " after its panic report" : "");
		vm_request_stop(v->vm, coho_reset_code(panicked));
		break;
	}
	case KVM_SYSTEM_EVENT_CRASH:
		pr_info("guest reported a crash (vCPU %u)", v->id);
		vm_request_stop(v->vm, COHO_EXIT_PANIC);
		break;
	default:
		pr_err("vCPU %u: unknown system event %u", v->id, run->system_event.type);
		vm_request_stop(v->vm, COHO_EXIT_GUEST_FAULT);
		break;
	}
}

/* Returns false when the vCPU must stop running. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(v);
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu_handle_system_event(v);
		return false;
	case KVM_EXIT_INTR:
		return true;
#ifdef KVM_EXIT_ARM_NISV
	case KVM_EXIT_ARM_NISV:
		/* A data abort KVM cannot decode (e.g. a load pair to MMIO): the guest's fault. */
		if (arch_vcpu_reject_access(v, run->arm_nisv.fault_ipa) == 0)
			return true;
		pr_err("vCPU %u: guest MMIO access at 0x%llx that cannot be emulated", v->id,
		       (unsigned long long)run->arm_nisv.fault_ipa);
		break;
#endif
	case KVM_EXIT_FAIL_ENTRY:
		pr_err("vCPU %u: KVM failed to enter the guest (reason 0x%llx)", v->id,
		       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		pr_err("vCPU %u: KVM internal error (suberror %u)", v->id, run->internal.suberror);
		break;
	default:
		pr_err("vCPU %u: unexpected exit reason %u", v->id, run->exit_reason);
		break;
	}
	arch_vcpu_dump(v);
	vm_request_stop(v->vm, COHO_EXIT_GUEST_FAULT);
	return false;
}

void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t set;

	/* Only this thread's kick signal reaches it; the main thread takes the rest. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (!vm_is_stopping(vm)) {
		vcpu_pause_point(v);
		if (vm_is_stopping(vm))
			break;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			pr_err("vCPU %u: KVM_RUN: %s", v->id, strerror(errno));
			vm_request_stop(vm, COHO_EXIT_VMM_ERROR);
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
	return NULL;
}
