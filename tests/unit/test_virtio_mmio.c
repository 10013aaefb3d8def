// SPDX-License-Identifier: GPL-2.0
/*
 * virtio/mmio.c driven as a guest driver drives it, through the MMIO bus of
 * a dry struct vm: identification, feature negotiation, queue set-up and its
 * rules (QueueNumMax, fixed once ready, disable), InterruptStatus/ACK and the
 * SPI level, 32-bit-only registers, the config area at 0x100, reset, queue
 * notifications served on the ioloop thread (and replayed at DRIVER_OK), the
 * DT node, and a hostile register fuzz. Offsets are written out here from
 * the spec (virtio 1.x, 4.2.2) rather than taken from the implementation.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libfdt.h>

#include "arm64/fdt.h"
#include "arm64/layout.h"
#include "ioloop.h"
#include "virtio/mmio.h"
#include "vm.h"
#include "tests/unit/test.h"
#include "tests/unit/capture.h"

#define CHECK_ERR(expr, err) CHECK_EQ_U64((u64)(s64)(expr), (u64)(s64)(err))

#define BASE ARM_VIRTIO_MMIO_BASE
#define SPI  ARM_VIRTIO_MMIO_SPI
#define RAM  SZ_1M

/* virtio 1.x, 4.2.2 */
#define MAGIC		 0x000
#define VERSION		 0x004
#define DEVICE_ID	 0x008
#define VENDOR_ID	 0x00c
#define DEV_FEATURES	 0x010
#define DEV_FEATURES_SEL 0x014
#define DRV_FEATURES	 0x020
#define DRV_FEATURES_SEL 0x024
#define QUEUE_SEL	 0x030
#define QUEUE_NUM_MAX	 0x034
#define QUEUE_NUM	 0x038
#define QUEUE_READY	 0x044
#define QUEUE_NOTIFY	 0x050
#define INT_STATUS	 0x060
#define INT_ACK		 0x064
#define STATUS		 0x070
#define DESC_LO		 0x080
#define DESC_HI		 0x084
#define DRIVER_LO	 0x090
#define DRIVER_HI	 0x094
#define DEVICE_LO	 0x0a0
#define DEVICE_HI	 0x0a4
#define SHM_SEL		 0x0ac
#define SHM_LEN_LO	 0x0b0
#define SHM_LEN_HI	 0x0b4
#define CONFIG_GEN	 0x0fc
#define CONFIG		 0x100

#define S_ACK	      VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRIVER      VIRTIO_STATUS_DRIVER
#define S_FEATURES_OK VIRTIO_STATUS_FEATURES_OK
#define S_DRIVER_OK   VIRTIO_STATUS_DRIVER_OK

/* Rings of the fake driver, inside RAM and aligned. */
#define RING_DESC  (ARM_RAM_BASE + 0x1000)
#define RING_AVAIL (ARM_RAM_BASE + 0x2000)
#define RING_USED  (ARM_RAM_BASE + 0x3000)

#define FAKE_ID	      42
#define FAKE_QMAX     64
#define FAKE_FEATURE  (1ULL << 5)
#define FAKE_CFG_SIZE 12

/* ---- a fake device: two queues, 12 bytes of config ---- */

struct fake {
	struct virtio_dev vdev;
	u8 cfg[FAKE_CFG_SIZE];
	unsigned cfg_reads, cfg_writes, bad_cfg, resets;
	unsigned notified[2]; /* atomic: written on the ioloop thread */
	unsigned unlocked;    /* queue_notify called without d->lock */
	unsigned off_loop;    /* queue_notify called outside the ioloop thread */
};

static struct vm vm;
static struct ioloop loop;
static struct fake fk;
static struct virtio_mmio mm;

static void fake_config_read(struct virtio_dev *d, u32 off, u8 *data, u32 len)
{
	struct fake *f = d->priv;

	f->cfg_reads++;
	if (off > FAKE_CFG_SIZE || len > FAKE_CFG_SIZE - off) {
		f->bad_cfg++;
		return;
	}
	memcpy(data, f->cfg + off, len);
}

static void fake_config_write(struct virtio_dev *d, u32 off, const u8 *data, u32 len)
{
	struct fake *f = d->priv;

	f->cfg_writes++;
	if (off > FAKE_CFG_SIZE || len > FAKE_CFG_SIZE - off) {
		f->bad_cfg++;
		return;
	}
	memcpy(f->cfg + off, data, len);
}

static void fake_queue_notify(struct virtio_dev *d, u16 q)
{
	struct fake *f = d->priv;

	/* The lock is held by the caller: a non-recursive trylock must fail. */
	if (pthread_mutex_trylock(&d->lock) == 0) {
		pthread_mutex_unlock(&d->lock);
		__atomic_fetch_add(&f->unlocked, 1, __ATOMIC_RELAXED);
	}
	if (!loop.running || !pthread_equal(pthread_self(), loop.thread))
		__atomic_fetch_add(&f->off_loop, 1, __ATOMIC_RELAXED);
	if (q < 2)
		__atomic_fetch_add(&f->notified[q], 1, __ATOMIC_RELAXED);
}

static void fake_reset(struct virtio_dev *d)
{
	struct fake *f = d->priv;

	f->resets++;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "fake",
	.device_id = FAKE_ID,
	.num_queues = 2,
	.queue_max = FAKE_QMAX,
	.features = FAKE_FEATURE,
	.config_size = FAKE_CFG_SIZE,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.queue_notify = fake_queue_notify,
	.reset = fake_reset,
};

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = -1;
	vm.kvm_fd = -1;
	vm.dry = true;
	if (guest_mem_init(&vm.mem, ARM_RAM_BASE, RAM) || ioloop_init(&loop)) {
		fprintf(stderr, "test set-up failed\n");
		exit(2);
	}
	memset(&fk, 0, sizeof(fk));
	virtio_dev_init(&fk.vdev, &fake_ops, &vm, &fk);
	for (u32 i = 0; i < FAKE_CFG_SIZE; i++)
		fk.cfg[i] = (u8)(0xa0 + i);
	CHECK_EQ_U64(virtio_mmio_init(&mm, &fk.vdev, &vm, BASE, SPI, &loop), 0);
}

static void teardown(void)
{
	ioloop_stop(&loop);
	virtio_mmio_destroy(&mm);
	ioloop_destroy(&loop);
	mmio_bus_free(&vm.mmio);
	guest_mem_destroy(&vm.mem);
	pthread_mutex_destroy(&fk.vdev.lock);
}

/* ---- guest-side accessors ---- */

static u64 rd(u64 off, u32 len)
{
	u64 v = 0xdeadbeefdeadbeefULL;

	CHECK(mmio_bus_access(&vm.mmio, BASE + off, (u8 *)&v, len, false));
	if (len < 8)
		v &= (1ULL << (8 * len)) - 1;
	return v;
}

static u32 rd32(u64 off)
{
	return (u32)rd(off, 4);
}

static void wr(u64 off, u64 v, u32 len)
{
	CHECK(mmio_bus_access(&vm.mmio, BASE + off, (u8 *)&v, len, true));
}

static void wr32(u64 off, u32 v)
{
	wr(off, v, 4);
}

static void set_features(u64 f)
{
	wr32(DRV_FEATURES_SEL, 0);
	wr32(DRV_FEATURES, (u32)f);
	wr32(DRV_FEATURES_SEL, 1);
	wr32(DRV_FEATURES, (u32)(f >> 32));
}

/* Program queue @q with a valid ring of @size entries; does not set QueueReady. */
static void program_queue(u32 q, u32 size)
{
	u64 off = (u64)q * 0x10000;

	wr32(QUEUE_SEL, q);
	wr32(QUEUE_NUM, size);
	wr32(DESC_LO, (u32)(RING_DESC + off));
	wr32(DESC_HI, (u32)((RING_DESC + off) >> 32));
	wr32(DRIVER_LO, (u32)(RING_AVAIL + off));
	wr32(DRIVER_HI, (u32)((RING_AVAIL + off) >> 32));
	wr32(DEVICE_LO, (u32)(RING_USED + off));
	wr32(DEVICE_HI, (u32)((RING_USED + off) >> 32));
}

static void negotiate(void)
{
	wr32(STATUS, S_ACK);
	wr32(STATUS, S_ACK | S_DRIVER);
	set_features(1ULL << VIRTIO_F_VERSION_1);
	wr32(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
}

/* Wait up to 2 s for *@p to reach @want. */
static bool wait_for(unsigned *p, unsigned want)
{
	for (int i = 0; i < 2000; i++) {
		if (__atomic_load_n(p, __ATOMIC_RELAXED) >= want)
			return true;
		usleep(1000);
	}
	return false;
}

/* ---- tests ---- */

static void test_ident(void)
{
	setup();
	CHECK_EQ_U64(rd32(MAGIC), 0x74726976);
	CHECK_EQ_U64(rd32(VERSION), 2);
	CHECK_EQ_U64(rd32(DEVICE_ID), FAKE_ID);
	CHECK(rd32(VENDOR_ID) != 0);
	CHECK_EQ_U64(rd32(STATUS), 0);
	CHECK_EQ_U64(rd32(INT_STATUS), 0);
	CHECK_EQ_U64(rd32(CONFIG_GEN), 0);
	/* No shared memory regions: length -1 (4.2.2). */
	wr32(SHM_SEL, 0);
	CHECK_EQ_U64(rd32(SHM_LEN_LO), 0xffffffff);
	CHECK_EQ_U64(rd32(SHM_LEN_HI), 0xffffffff);
	wr32(SHM_SEL, 7);
	CHECK_EQ_U64(rd32(SHM_LEN_LO), 0xffffffff);
	/* The slot is exactly 4 KiB: the next byte is not ours. */
	{
		u32 v = 0;

		CHECK(!mmio_bus_access(&vm.mmio, BASE + VIRTIO_MMIO_SLOT_SIZE, (u8 *)&v, 4, false));
		CHECK(mmio_bus_access(&vm.mmio, BASE + VIRTIO_MMIO_SLOT_SIZE - 4, (u8 *)&v, 4,
				      false));
		CHECK_EQ_U64(v, 0);
	}
	teardown();
}

static void test_init_errors(void)
{
	static struct virtio_mmio m2;
	static struct fake f2;
	static struct virtio_dev_ops bad;

	setup();
	/* A second slot right after the first works; an overlapping one does not. */
	virtio_dev_init(&f2.vdev, &fake_ops, &vm, &f2);
	CHECK_EQ_U64(
	    virtio_mmio_init(&m2, &f2.vdev, &vm, BASE + VIRTIO_MMIO_SLOT_SIZE, SPI + 1, &loop), 0);
	virtio_mmio_destroy(&m2);
	capture_begin();
	CHECK_ERR(virtio_mmio_init(&m2, &f2.vdev, &vm, BASE + 0x800, SPI + 2, &loop), -EBUSY);
	capture_end();
	/* A failed init leaves nothing behind (the board frees it without destroy). */
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		CHECK_EQ_U64(m2.kick_fd[q], (u64)(s64)-1);
		CHECK(!m2.kick_watched[q]);
		CHECK(!m2.kick_assigned[q]);
	}
	CHECK(!m2.on_bus);
	/* The first device is still served. */
	CHECK_EQ_U64(rd32(DEVICE_ID), FAKE_ID);

	bad = fake_ops;
	bad.num_queues = VIRTIO_MAX_QUEUES + 1;
	virtio_dev_init(&f2.vdev, &bad, &vm, &f2);
	CHECK_ERR(virtio_mmio_init(&m2, &f2.vdev, &vm, BASE + 0x10000, SPI + 3, &loop), -EINVAL);
	bad = fake_ops;
	bad.config_size = 0xf01;
	CHECK_ERR(virtio_mmio_init(&m2, &f2.vdev, &vm, BASE + 0x10000, SPI + 3, &loop), -EINVAL);
	pthread_mutex_destroy(&f2.vdev.lock);
	teardown();
}

static void test_features(void)
{
	u64 offered;

	setup();
	offered = fk.vdev.device_features;
	CHECK(offered & FAKE_FEATURE);
	CHECK(offered & (1ULL << VIRTIO_F_VERSION_1));
	wr32(DEV_FEATURES_SEL, 0);
	CHECK_EQ_U64(rd32(DEV_FEATURES), (u32)offered);
	wr32(DEV_FEATURES_SEL, 1);
	CHECK_EQ_U64(rd32(DEV_FEATURES), (u32)(offered >> 32));
	CHECK(rd32(DEV_FEATURES) & 1); /* VERSION_1 is bit 32 */
	wr32(DEV_FEATURES_SEL, 2);
	CHECK_EQ_U64(rd32(DEV_FEATURES), 0);
	wr32(DEV_FEATURES_SEL, 0xffffffff);
	CHECK_EQ_U64(rd32(DEV_FEATURES), 0);

	/* Accepting a bit that was not offered: FEATURES_OK does not stick. */
	wr32(STATUS, S_ACK | S_DRIVER);
	set_features(1ULL << VIRTIO_F_VERSION_1 | 1ULL << 3);
	wr32(DRV_FEATURES_SEL, 5); /* out of range: ignored */
	wr32(DRV_FEATURES, 0xffffffff);
	CHECK_EQ_U64(fk.vdev.driver_features, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << 3);
	wr32(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	CHECK_EQ_U64(rd32(STATUS) & S_FEATURES_OK, 0);

	/* Without VERSION_1 neither. */
	set_features(FAKE_FEATURE);
	wr32(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	CHECK_EQ_U64(rd32(STATUS) & S_FEATURES_OK, 0);

	/* A subset of the offer: accepted, and then fixed. */
	set_features(1ULL << VIRTIO_F_VERSION_1 | FAKE_FEATURE);
	wr32(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	CHECK_EQ_U64(rd32(STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
	wr32(DRV_FEATURES_SEL, 0);
	wr32(DRV_FEATURES, 0xffffffff);
	CHECK_EQ_U64(fk.vdev.driver_features, 1ULL << VIRTIO_F_VERSION_1 | FAKE_FEATURE);
	teardown();
}

static void test_queues(void)
{
	const char *log;

	setup();
	negotiate();
	wr32(QUEUE_SEL, 0);
	CHECK_EQ_U64(rd32(QUEUE_NUM_MAX), FAKE_QMAX);
	CHECK_EQ_U64(rd32(QUEUE_READY), 0);
	wr32(QUEUE_SEL, 1);
	CHECK_EQ_U64(rd32(QUEUE_NUM_MAX), FAKE_QMAX);
	/* Queues beyond the device's: not available, writes go nowhere. */
	wr32(QUEUE_SEL, 2);
	CHECK_EQ_U64(rd32(QUEUE_NUM_MAX), 0);
	wr32(QUEUE_NUM, 8);
	wr32(QUEUE_READY, 1);
	CHECK_EQ_U64(rd32(QUEUE_READY), 0);
	wr32(QUEUE_SEL, 0xffffffff);
	CHECK_EQ_U64(rd32(QUEUE_NUM_MAX), 0);
	wr32(DESC_LO, 0x1234);
	wr32(QUEUE_READY, 1);
	CHECK_EQ_U64(rd32(QUEUE_READY), 0);
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		CHECK(!fk.vdev.vq_enabled[q]);

	/* QueueNum above QueueNumMax (or 0) is ignored. */
	wr32(QUEUE_SEL, 0);
	wr32(QUEUE_NUM, 16);
	CHECK_EQ_U64(fk.vdev.vq_size[0], 16);
	wr32(QUEUE_NUM, FAKE_QMAX + 1);
	CHECK_EQ_U64(fk.vdev.vq_size[0], 16);
	wr32(QUEUE_NUM, 0x10010); /* would truncate to 16 bits as 16 */
	CHECK_EQ_U64(fk.vdev.vq_size[0], 16);
	wr32(QUEUE_NUM, 0);
	CHECK_EQ_U64(fk.vdev.vq_size[0], 16);

	/* 64-bit addresses from two halves. */
	wr32(DESC_LO, 0x89abcdef);
	wr32(DESC_HI, 0x01234567);
	CHECK_EQ_U64(fk.vdev.vq_desc[0], 0x0123456789abcdefULL);
	wr32(DRIVER_HI, 0x11);
	wr32(DRIVER_LO, 0x22);
	CHECK_EQ_U64(fk.vdev.vq_avail[0], 0x1100000022ULL);
	wr32(DEVICE_LO, 0x33);
	wr32(DEVICE_HI, 0x44);
	CHECK_EQ_U64(fk.vdev.vq_used[0], 0x4400000033ULL);

	/* Enabling with rings outside RAM fails: not ready, the device needs a reset. */
	capture_begin();
	wr32(QUEUE_READY, 1);
	log = capture_end();
	CHECK(strstr(log, "outside guest RAM") != NULL);
	CHECK_EQ_U64(rd32(QUEUE_READY), 0);
	CHECK(rd32(STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	wr32(STATUS, 0);
	CHECK_EQ_U64(rd32(STATUS), 0);
	negotiate();

	/* Valid rings: ready. */
	program_queue(0, 16);
	wr32(QUEUE_READY, 1);
	CHECK_EQ_U64(rd32(QUEUE_READY), 1);
	CHECK(fk.vdev.vq_enabled[0]);
	CHECK_EQ_U64(fk.vdev.vq[0].size, 16);
	CHECK_EQ_U64(fk.vdev.vq[0].desc_gpa, RING_DESC);
	CHECK_EQ_U64(fk.vdev.vq[0].avail_gpa, RING_AVAIL);
	CHECK_EQ_U64(fk.vdev.vq[0].used_gpa, RING_USED);
	CHECK(fk.vdev.vq[0].event_idx == false);
	/* Queue 1 is independent. */
	wr32(QUEUE_SEL, 1);
	CHECK_EQ_U64(rd32(QUEUE_READY), 0);
	wr32(QUEUE_SEL, 0);

	/* A ready queue's size and addresses are fixed. */
	wr32(QUEUE_NUM, 32);
	wr32(DESC_LO, 0x5000);
	wr32(DESC_HI, 1);
	wr32(DRIVER_LO, 0x6000);
	wr32(DEVICE_LO, 0x7000);
	wr32(QUEUE_READY, 1);
	CHECK_EQ_U64(fk.vdev.vq_size[0], 16);
	CHECK_EQ_U64(fk.vdev.vq_desc[0], RING_DESC);
	CHECK_EQ_U64(fk.vdev.vq_avail[0], RING_AVAIL);
	CHECK_EQ_U64(fk.vdev.vq_used[0], RING_USED);
	CHECK_EQ_U64(fk.vdev.vq[0].size, 16);
	CHECK_EQ_U64(rd32(STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);

	/* QueueReady 0 stops the queue (Linux's del_vq reads back 0); then it is writable. */
	wr32(QUEUE_READY, 0);
	CHECK_EQ_U64(rd32(QUEUE_READY), 0);
	CHECK(!fk.vdev.vq_enabled[0]);
	wr32(QUEUE_NUM, 32);
	CHECK_EQ_U64(fk.vdev.vq_size[0], 32);
	wr32(QUEUE_READY, 1);
	CHECK_EQ_U64(rd32(QUEUE_READY), 1);
	CHECK_EQ_U64(fk.vdev.vq[0].size, 32);
	/* Values other than 0 and 1 do nothing. */
	wr32(QUEUE_READY, 2);
	CHECK_EQ_U64(rd32(QUEUE_READY), 1);
	teardown();
}

static void test_interrupts(void)
{
	struct virtio_dev *d = &fk.vdev;

	setup();
	negotiate();
	CHECK(!mm.irq_level);
	pthread_mutex_lock(&d->lock);
	d->transport->notify_queue(d, 0);
	pthread_mutex_unlock(&d->lock);
	CHECK_EQ_U64(rd32(INT_STATUS), 1);
	CHECK(mm.irq_level);
	CHECK_EQ_U64(rd32(CONFIG_GEN), 0);
	pthread_mutex_lock(&d->lock);
	d->transport->notify_config(d);
	pthread_mutex_unlock(&d->lock);
	CHECK_EQ_U64(rd32(INT_STATUS), 3);
	CHECK_EQ_U64(rd32(CONFIG_GEN), 1);
	/* Reading does not acknowledge. */
	CHECK_EQ_U64(rd32(INT_STATUS), 3);
	CHECK(mm.irq_level);
	wr32(INT_ACK, 1);
	CHECK_EQ_U64(rd32(INT_STATUS), 2);
	CHECK(mm.irq_level);
	wr32(INT_ACK, 0); /* nothing */
	CHECK_EQ_U64(rd32(INT_STATUS), 2);
	wr(INT_ACK, 2, 2); /* 16-bit: ignored */
	CHECK_EQ_U64(rd32(INT_STATUS), 2);
	wr32(INT_ACK, 0xfffffff2);
	CHECK_EQ_U64(rd32(INT_STATUS), 0);
	CHECK(!mm.irq_level);
	/* InterruptStatus is read-only. */
	wr32(INT_STATUS, 3);
	CHECK_EQ_U64(rd32(INT_STATUS), 0);
	CHECK(!mm.irq_level);

	/* A broken queue raises NEEDS_RESET with a config interrupt once DRIVER_OK. */
	wr32(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	pthread_mutex_lock(&d->lock);
	virtio_dev_broken(d);
	pthread_mutex_unlock(&d->lock);
	CHECK_EQ_U64(rd32(INT_STATUS), 2);
	CHECK(rd32(STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ_U64(rd32(CONFIG_GEN), 2);
	CHECK(mm.irq_level);
	teardown();
}

static void test_widths(void)
{
	setup();
	/* Registers: only aligned 32-bit accesses count. */
	CHECK_EQ_U64(rd(MAGIC, 1), 0);
	CHECK_EQ_U64(rd(MAGIC, 2), 0);
	CHECK_EQ_U64(rd(MAGIC, 8), 0);
	CHECK_EQ_U64(rd(MAGIC + 1, 4), 0);
	CHECK_EQ_U64(rd(VERSION - 2, 4), 0);
	CHECK_EQ_U64(rd(MAGIC, 4), 0x74726976);
	wr(QUEUE_SEL, 1, 1);
	wr(QUEUE_SEL, 1, 2);
	wr(QUEUE_SEL, 1, 8);
	wr(QUEUE_SEL + 2, 1, 4);
	CHECK_EQ_U64(mm.queue_sel, 0);
	wr(STATUS, S_ACK, 1);
	wr(STATUS, S_ACK, 8);
	CHECK_EQ_U64(rd32(STATUS), 0);
	wr32(STATUS, S_ACK);
	CHECK_EQ_U64(rd32(STATUS), S_ACK);
	CHECK_EQ_U64(rd(STATUS, 1), 0);

	/* Reserved offsets read 0 and ignore writes. */
	for (u32 off = 0; off < CONFIG; off += 4) {
		switch (off) {
		case MAGIC:
		case VERSION:
		case DEVICE_ID:
		case VENDOR_ID:
		case DEV_FEATURES:
		case QUEUE_NUM_MAX:
		case STATUS:
		case SHM_LEN_LO:
		case SHM_LEN_HI:
		case SHM_LEN_HI + 4:
		case SHM_LEN_HI + 8:
			continue;
		}
		CHECK_EQ_U64(rd32(off), 0);
	}
	wr32(0x0f0, 0xffffffff);
	wr32(0x0c4, 0xffffffff);
	wr32(0x0fc, 0xffffffff);
	CHECK_EQ_U64(rd32(CONFIG_GEN), 0);
	CHECK_EQ_U64(rd32(STATUS), S_ACK);

	/* The config area takes 8, 16, 32 and 64-bit accesses. */
	CHECK_EQ_U64(rd(CONFIG, 1), 0xa0);
	CHECK_EQ_U64(rd(CONFIG + 3, 1), 0xa3);
	CHECK_EQ_U64(rd(CONFIG + 2, 2), 0xa3a2);
	CHECK_EQ_U64(rd(CONFIG + 4, 4), 0xa7a6a5a4);
	CHECK_EQ_U64(rd(CONFIG + 4, 8), 0xabaaa9a8a7a6a5a4ULL);
	fk.cfg_reads = 0;
	/* Odd widths and bytes past config_size: 0, and the device is not asked. */
	CHECK_EQ_U64(rd(CONFIG, 3), 0);
	CHECK_EQ_U64(rd(CONFIG + 8, 8), 0);
	CHECK_EQ_U64(rd(CONFIG + 12, 1), 0);
	CHECK_EQ_U64(rd(CONFIG + 0x100, 4), 0);
	CHECK_EQ_U64(rd(VIRTIO_MMIO_SLOT_SIZE - 8, 8), 0);
	CHECK_EQ_U64(fk.cfg_reads, 0);
	wr(CONFIG + 2, 0x5a5b, 2);
	CHECK_EQ_U64(fk.cfg[2], 0x5b);
	CHECK_EQ_U64(fk.cfg[3], 0x5a);
	CHECK_EQ_U64(fk.cfg_writes, 1);
	wr(CONFIG + 11, 0xffff, 2);
	wr(CONFIG + 12, 0xff, 1);
	CHECK_EQ_U64(fk.cfg_writes, 1);
	CHECK_EQ_U64(fk.bad_cfg, 0);
	teardown();
}

static void test_reset(void)
{
	struct virtio_dev *d = &fk.vdev;

	setup();
	negotiate();
	program_queue(0, 16);
	wr32(QUEUE_READY, 1);
	program_queue(1, 8);
	wr32(QUEUE_READY, 1);
	wr32(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	wr32(DEV_FEATURES_SEL, 1);
	pthread_mutex_lock(&d->lock);
	d->transport->notify_queue(d, 1);
	pthread_mutex_unlock(&d->lock);
	CHECK(mm.irq_level);
	CHECK(d->vq_enabled[0] && d->vq_enabled[1]);

	wr32(STATUS, 0);
	CHECK_EQ_U64(rd32(STATUS), 0);
	CHECK_EQ_U64(fk.resets, 1);
	CHECK_EQ_U64(rd32(INT_STATUS), 0);
	CHECK(!mm.irq_level);
	CHECK_EQ_U64(d->driver_features, 0);
	CHECK_EQ_U64(mm.queue_sel, 0);
	CHECK_EQ_U64(mm.dfselect, 0);
	CHECK_EQ_U64(rd32(DEV_FEATURES), (u32)d->device_features);
	for (u32 q = 0; q < 2; q++) {
		wr32(QUEUE_SEL, q);
		CHECK_EQ_U64(rd32(QUEUE_READY), 0);
		CHECK(!d->vq_enabled[q]);
		CHECK_EQ_U64(d->vq_size[q], 0);
		CHECK_EQ_U64(d->vq_desc[q], 0);
	}
	/* And the device can be brought up again. */
	negotiate();
	program_queue(0, 16);
	wr32(QUEUE_SEL, 0);
	wr32(QUEUE_READY, 1);
	CHECK_EQ_U64(rd32(QUEUE_READY), 1);
	teardown();
}

static void test_notify(void)
{
	unsigned n0, n1;

	setup();
	CHECK_EQ_U64(ioloop_start(&loop), 0);
	negotiate();
	program_queue(0, 16);
	wr32(QUEUE_READY, 1);
	program_queue(1, 16);
	wr32(QUEUE_READY, 1);

	/* Before DRIVER_OK kicks are not served... */
	wr32(QUEUE_NOTIFY, 0);
	wr32(QUEUE_NOTIFY, 1);
	usleep(50000);
	CHECK_EQ_U64(__atomic_load_n(&fk.notified[0], __ATOMIC_RELAXED), 0);
	CHECK_EQ_U64(__atomic_load_n(&fk.notified[1], __ATOMIC_RELAXED), 0);
	/* ...but replayed when it is set. */
	wr32(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	CHECK(wait_for(&fk.notified[0], 1));
	CHECK(wait_for(&fk.notified[1], 1));

	/* QueueNotify writes that reach the handler are served on the ioloop. */
	n0 = __atomic_load_n(&fk.notified[0], __ATOMIC_RELAXED);
	n1 = __atomic_load_n(&fk.notified[1], __ATOMIC_RELAXED);
	wr32(QUEUE_NOTIFY, 1);
	CHECK(wait_for(&fk.notified[1], n1 + 1));
	wr32(QUEUE_NOTIFY, 0);
	CHECK(wait_for(&fk.notified[0], n0 + 1));
	/* Out-of-range queues and odd widths go nowhere. */
	n0 = __atomic_load_n(&fk.notified[0], __ATOMIC_RELAXED);
	n1 = __atomic_load_n(&fk.notified[1], __ATOMIC_RELAXED);
	wr32(QUEUE_NOTIFY, 2);
	wr32(QUEUE_NOTIFY, 0xffffffff);
	wr(QUEUE_NOTIFY, 0, 2);
	wr(QUEUE_NOTIFY, 1, 1);
	usleep(50000);
	CHECK_EQ_U64(__atomic_load_n(&fk.notified[0], __ATOMIC_RELAXED), n0);
	CHECK_EQ_U64(__atomic_load_n(&fk.notified[1], __ATOMIC_RELAXED), n1);

	/* A disabled queue is not served. */
	wr32(QUEUE_SEL, 1);
	wr32(QUEUE_READY, 0);
	wr32(QUEUE_NOTIFY, 1);
	wr32(QUEUE_NOTIFY, 0);
	CHECK(wait_for(&fk.notified[0], n0 + 1));
	usleep(20000);
	CHECK_EQ_U64(__atomic_load_n(&fk.notified[1], __ATOMIC_RELAXED), n1);

	CHECK_EQ_U64(__atomic_load_n(&fk.unlocked, __ATOMIC_RELAXED), 0);
	CHECK_EQ_U64(__atomic_load_n(&fk.off_loop, __ATOMIC_RELAXED), 0);
	teardown();
}

static void test_fdt(void)
{
	char *buf = calloc(1, 16384);
	u64 small[16];
	const fdt32_t *v;
	char path[64];
	int node, len;

	setup();
	CHECK(buf != NULL);
	if (!buf)
		return;
	CHECK_EQ_U64(fdt_create(buf, 16384), 0);
	CHECK_EQ_U64(fdt_finish_reservemap(buf), 0);
	CHECK_EQ_U64(fdt_begin_node(buf, ""), 0);
	CHECK_EQ_U64(fdt_property_u32(buf, "#address-cells", 2), 0);
	CHECK_EQ_U64(fdt_property_u32(buf, "#size-cells", 2), 0);
	CHECK_EQ_U64(virtio_mmio_fdt(&mm, buf, FDT_PHANDLE_GIC), 0);
	CHECK_EQ_U64(fdt_end_node(buf), 0);
	CHECK_EQ_U64(fdt_finish(buf), 0);

	snprintf(path, sizeof(path), "/virtio_mmio@%" PRIx64, (u64)BASE);
	node = fdt_path_offset(buf, path);
	CHECK(node >= 0);
	if (node >= 0) {
		CHECK_STR(fdt_getprop(buf, node, "compatible", NULL), "virtio,mmio");
		v = fdt_getprop(buf, node, "reg", &len);
		CHECK_EQ_U64(len, 16);
		if (v && len == 16) {
			CHECK_EQ_U64((u64)fdt32_ld(&v[0]) << 32 | fdt32_ld(&v[1]), BASE);
			CHECK_EQ_U64((u64)fdt32_ld(&v[2]) << 32 | fdt32_ld(&v[3]), 0x1000);
		}
		v = fdt_getprop(buf, node, "interrupts", &len);
		CHECK_EQ_U64(len, 12);
		if (v && len == 12) {
			CHECK_EQ_U64(fdt32_ld(&v[0]), 0); /* GIC_SPI */
			CHECK_EQ_U64(fdt32_ld(&v[1]), SPI);
			CHECK_EQ_U64(fdt32_ld(&v[2]), 4); /* IRQ_TYPE_LEVEL_HIGH */
		}
		v = fdt_getprop(buf, node, "interrupt-parent", &len);
		CHECK(v && len == 4 && fdt32_ld(v) == FDT_PHANDLE_GIC);
		CHECK(fdt_getprop(buf, node, "dma-coherent", &len) != NULL);
		CHECK_EQ_U64(len, 0);
	}

	/* Errors come back as -errno. */
	CHECK_EQ_U64(fdt_create(small, sizeof(small)), 0);
	CHECK_EQ_U64(fdt_finish_reservemap(small), 0);
	CHECK_EQ_U64(fdt_begin_node(small, ""), 0);
	CHECK_ERR(virtio_mmio_fdt(&mm, small, FDT_PHANDLE_GIC), -ENOSPC);
	capture_begin();
	CHECK_ERR(virtio_mmio_fdt(&mm, buf, 0), -EINVAL);
	capture_end();
	free(buf);
	teardown();
}

/* Hostile driver: random accesses anywhere in the slot never crash or leak the lock. */
static void test_fuzz(void)
{
	static const u32 lens[] = { 1, 2, 3, 4, 4, 4, 4, 8 };
	static const u32 hot[] = { QUEUE_SEL, QUEUE_NUM,  QUEUE_READY,	QUEUE_NOTIFY,	 INT_ACK,
				   STATUS,    DESC_LO,	  DESC_HI,	DRIVER_LO,	 DEVICE_LO,
				   CONFIG,    CONFIG + 8, DRV_FEATURES, DRV_FEATURES_SEL };
	unsigned seed = 12345;

	setup();
	capture_begin();
	for (int i = 0; i < 200000; i++) {
		u32 r = (u32)rand_r(&seed), len = lens[r % ARRAY_SIZE(lens)];
		u64 off, val = (u64)rand_r(&seed) << 32 | (u64)rand_r(&seed);

		if (r & 0x100)
			off = hot[(r >> 9) % ARRAY_SIZE(hot)];
		else
			off = (r >> 9) % VIRTIO_MMIO_SLOT_SIZE;
		if (off + len > VIRTIO_MMIO_SLOT_SIZE)
			off = VIRTIO_MMIO_SLOT_SIZE - len;
		/* Small values often, so queue indexes and sizes hit valid ones. */
		if (r & 0x80000)
			val %= 70;
		else if (r & 0x40000)
			val = RING_DESC + (val % 0x10) * 0x1000;
		mmio_bus_access(&vm.mmio, BASE + off, (u8 *)&val, len, r & 1);
	}
	capture_end();
	CHECK_EQ_U64(fk.bad_cfg, 0);
	CHECK_EQ_U64(pthread_mutex_trylock(&fk.vdev.lock), 0);
	pthread_mutex_unlock(&fk.vdev.lock);
	/* Still a working device afterwards. */
	wr32(STATUS, 0);
	CHECK_EQ_U64(rd32(STATUS), 0);
	CHECK_EQ_U64(rd32(INT_STATUS), 0);
	CHECK(!mm.irq_level);
	CHECK_EQ_U64(rd32(MAGIC), 0x74726976);
	teardown();
}

static void test_destroy(void)
{
	setup();
	virtio_mmio_destroy(&mm);
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		CHECK_EQ_U64(mm.kick_fd[q], (u64)(s64)-1);
	/* Idempotent, and the slot stays harmless afterwards. */
	virtio_mmio_destroy(&mm);
	negotiate();
	wr32(QUEUE_NOTIFY, 0);
	CHECK_EQ_U64(rd32(DEVICE_ID), FAKE_ID);
	teardown();
}

TEST_MAIN(test_ident, test_init_errors, test_features, test_queues, test_interrupts, test_widths,
	  test_reset, test_notify, test_fdt, test_fuzz, test_destroy)
