// SPDX-License-Identifier: GPL-2.0
/*
 * pcitool: exercise PCI devices from a Linux guest's userspace (root, sysfs).
 *
 *   pcitool edu-dma BDF [BYTES]       DMA RAM -> QEMU edu -> RAM, compare
 *   pcitool edu-intx BDF UIODEV N     N edu INTx rounds through uio_pci_generic
 *   pcitool bw FILE SIZE              write/read bandwidth of a BAR mapping (MiB, or NK)
 *   pcitool ldp FILE                  one load pair from a BAR (undecodable if trapped)
 *   pcitool read FILE OFF LEN         LEN bytes of a BAR mapping to stdout (32-bit loads)
 *   pcitool write FILE OFF LEN        up to LEN bytes from stdin into it (32-bit stores)
 *
 * BDF names /sys/bus/pci/devices/BDF (e.g. 0000:00:02.0). Each command prints
 * one machine-readable line on stdout and exits 0 on success; on failure it
 * exits 1 with one line on stderr (the stdout line is still printed when the
 * measurement itself ran):
 *
 *   pcitool edu-dma bdf=... id=0x010000ed src=0x... dst=0x... bytes=4095 match=yes
 *   pcitool edu-intx bdf=... raised=N delivered=M extra=K status_int=S unmask=uio|config
 *   pcitool bw file=... bytes=... write_MBps=... read_MBps=...
 *
 * edu-dma: the edu device (1234:11e8, QEMU docs/specs/edu.rst) is driven
 * through resource0 with bus mastering enabled by a config-space write. Bus
 * addresses are guest-physical addresses from /proc/self/pagemap, so there
 * must be no IOMMU in front of the device, and edu needs a dma_mask covering
 * guest RAM (e.g. -device edu,dma_mask=0xffffffffff). The DMA address
 * registers are written with single 64-bit stores: edu ignores a 32-bit write
 * to their upper halves. BYTES (default 4095, at most 4096) go each way through
 * one page-aligned, mlocked page of RAM. Not 4096 by default: QEMU up to 7.2
 * has an off-by-one in edu's range check and a transfer ending at the end of
 * edu's 4 KiB buffer stops the whole QEMU with "hw_error: DMA range ... out of
 * bounds".
 *
 * edu-intx: the device must be bound to uio_pci_generic and UIODEV be its
 * /dev/uioX. Each round raises the edu interrupt (+0x60), waits up to 2 s for
 * the uio event, acknowledges it at edu (+0x64), unmasks INTx and then checks
 * that no further event arrives within 100 ms. Unmasking is a write of 1 to
 * UIODEV where the driver has irqcontrol; uio_pci_generic has none (the write
 * fails with ENOSYS), so it is unmasked by clearing PCI_COMMAND_INTX_DISABLE in
 * config space, as the kernel's UIO howto does.
 * uio_pci_generic only claims the interrupt when PCI_STATUS_INTERRUPT is set;
 * status_int counts the rounds in which it was seen set before the ack.
 * Success requires delivered == raised and extra == 0.
 *
 * bw: maps min(file size, SIZE_MIB MiB) of a sysfs resource file (resourceN
 * or resourceN_wc), and times 8-byte stores, then 8-byte loads, over it for at
 * least 0.5 s each. MB/s are 10^6 bytes per second.
 *
 * Static aarch64 build: aarch64-linux-gnu-gcc -static -O2 -o pcitool pcitool.c
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PCI_COMMAND		 0x04
#define PCI_COMMAND_MEMORY	 0x0002
#define PCI_COMMAND_MASTER	 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS		 0x06
#define PCI_STATUS_INTERRUPT	 0x0008

#define EDU_ID	       0x00
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE  0x60
#define EDU_IRQ_ACK    0x64
#define EDU_DMA_SRC    0x80
#define EDU_DMA_DST    0x88
#define EDU_DMA_COUNT  0x90
#define EDU_DMA_CMD    0x98
#define EDU_DMA_RUN    0x1
#define EDU_DMA_TO_RAM 0x2
#define EDU_DMA_BUF    0x40000
#define EDU_BAR_MIN    0x1000

#define DMA_BUF_BYTES 4096
#define DMA_DEF_BYTES 4095 /* see the top comment */

static const char *cmd_name = "pcitool";
volatile uint64_t bw_sink; /* keeps the read loop's loads */

static void __attribute__((format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pcitool: %s: ", cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Order normal-memory accesses against device (MMIO) accesses, like wmb()/rmb(). */
static inline void io_barrier(void)
{
#ifdef __aarch64__
	__asm__ volatile("dsb sy" ::: "memory");
#else
	__sync_synchronize();
#endif
}

/*
 * One 64-bit access with a plain base register, as the kernel's readq/writeq:
 * a trapped (emulated) BAR can only be accessed with instructions the
 * hypervisor can decode (ARM ARM: no syndrome for writeback or pair forms),
 * which a compiler may otherwise pick for a loop.
 */
static inline void st64(volatile uint64_t *p, uint64_t v)
{
#ifdef __aarch64__
	__asm__ volatile("str %x0, [%1]" : : "rZ"(v), "r"(p) : "memory");
#else
	*p = v;
#endif
}

static inline uint64_t ld64(const volatile uint64_t *p)
{
	uint64_t v;

#ifdef __aarch64__
	__asm__ volatile("ldr %x0, [%1]" : "=r"(v) : "r"(p) : "memory");
#else
	v = *p;
#endif
	return v;
}

static inline uint32_t rd32(volatile uint8_t *base, unsigned long off)
{
	return *(volatile uint32_t *)(base + off);
}

static inline void wr32(volatile uint8_t *base, unsigned long off, uint32_t v)
{
	*(volatile uint32_t *)(base + off) = v;
}

static inline void wr64(volatile uint8_t *base, unsigned long off, uint64_t v)
{
	*(volatile uint64_t *)(base + off) = v;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* Config space through sysfs; little-endian 16-bit accesses. */
static int cfg_open(const char *devdir)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/config", devdir);
	fd = open(path, O_RDWR);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	return fd;
}

static uint16_t cfg_rd16(int fd, off_t off)
{
	uint8_t b[2];

	if (pread(fd, b, 2, off) != 2)
		die("config read at 0x%lx: %s", (long)off, strerror(errno));
	return b[0] | b[1] << 8;
}

static void cfg_wr16(int fd, off_t off, uint16_t v)
{
	uint8_t b[2] = { v & 0xff, v >> 8 };

	if (pwrite(fd, b, 2, off) != 2)
		die("config write at 0x%lx: %s", (long)off, strerror(errno));
}

/* Make sure the Command register has all of set and none of clear. */
static uint16_t cfg_command(int fd, uint16_t set, uint16_t clear)
{
	uint16_t cmd = cfg_rd16(fd, PCI_COMMAND);
	uint16_t want = (cmd | set) & ~clear;

	if (want != cmd)
		cfg_wr16(fd, PCI_COMMAND, want);
	cmd = cfg_rd16(fd, PCI_COMMAND);
	if ((cmd & (set | clear)) != set)
		die("Command register is 0x%04x, wanted bits 0x%04x set and 0x%04x clear", cmd, set,
		    clear);
	return cmd;
}

static volatile uint8_t *map_file(const char *path, size_t *len, size_t max)
{
	struct stat st;
	void *p;
	int fd;

	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (fstat(fd, &st))
		die("stat %s: %s", path, strerror(errno));
	*len = st.st_size;
	if (max && *len > max)
		*len = max;
	if (!*len)
		die("%s is empty (BAR not assigned?)", path);
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap %s (%zu bytes): %s", path, *len, strerror(errno));
	close(fd);
	return p;
}

static volatile uint8_t *map_bar0(const char *devdir, size_t *len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/resource0", devdir);
	return map_file(path, len, 0);
}

/* Guest-physical address of a resident, locked virtual address. */
static uint64_t virt_to_phys(const void *va)
{
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t v = (uintptr_t)va, ent;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		die("open /proc/self/pagemap: %s", strerror(errno));
	if (pread(fd, &ent, 8, (off_t)(v / psz) * 8) != 8)
		die("read /proc/self/pagemap: %s", strerror(errno));
	close(fd);
	if (!(ent >> 63 & 1))
		die("page at %p not present", va);
	ent &= (1ULL << 55) - 1;
	if (!ent)
		die("pagemap PFN is 0 (not root?)");
	return ent * psz + v % psz;
}

static void *dma_buffer(void)
{
	long psz = sysconf(_SC_PAGESIZE);
	size_t len = psz;
	void *p;

	if (psz < DMA_BUF_BYTES)
		die("page size %ld < %d: DMA buffer would not be contiguous", psz, DMA_BUF_BYTES);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
		 0);
	if (p == MAP_FAILED)
		die("mmap DMA buffer: %s", strerror(errno));
	if (mlock(p, len))
		die("mlock: %s", strerror(errno));
	memset(p, 0, len);
	return p;
}

static bool edu_dma(volatile uint8_t *bar, uint64_t src, uint64_t dst, uint32_t bytes, uint32_t cmd)
{
	double deadline;

	io_barrier();
	wr64(bar, EDU_DMA_SRC, src);
	wr64(bar, EDU_DMA_DST, dst);
	wr32(bar, EDU_DMA_COUNT, bytes);
	wr32(bar, EDU_DMA_CMD, cmd | EDU_DMA_RUN);
	deadline = now_s() + 2.0;
	while (rd32(bar, EDU_DMA_CMD) & EDU_DMA_RUN) {
		if (now_s() > deadline)
			return false;
		sleep_ms(1);
	}
	io_barrier();
	return true;
}

static int cmd_edu_dma(const char *bdf, uint32_t bytes)
{
	char devdir[256], path[512];
	uint64_t x, src_pa, dst_pa;
	uint8_t *src, *dst;
	volatile uint8_t *bar;
	size_t barlen;
	uint32_t id;
	long bad = -1;
	int cfg;

	snprintf(devdir, sizeof(devdir), "/sys/bus/pci/devices/%s", bdf);
	snprintf(path, sizeof(path), "%s/enable", devdir);
	write_str(path, "1"); /* best effort: the Command write below is checked */
	cfg = cfg_open(devdir);
	cfg_command(cfg, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0);
	close(cfg);

	bar = map_bar0(devdir, &barlen);
	if (barlen < EDU_BAR_MIN)
		die("resource0 is %zu bytes, too small for edu", barlen);
	id = rd32(bar, EDU_ID);
	if ((id & 0xffff) != 0x00ed)
		die("ID register is 0x%08x, not an edu device", id);

	src = dma_buffer();
	dst = dma_buffer();
	x = 0x9e3779b97f4a7c15ULL ^ (uint64_t)now_s() ^ (uint64_t)getpid() << 32;
	for (int i = 0; i < DMA_BUF_BYTES; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(src + i, &x, 8);
	}
	memset(dst, 0x5a, DMA_BUF_BYTES);
	src_pa = virt_to_phys(src);
	dst_pa = virt_to_phys(dst);

	if (!edu_dma(bar, src_pa, EDU_DMA_BUF, bytes, 0))
		die("RAM->edu DMA still running after 2 s (cmd=0x%x)", rd32(bar, EDU_DMA_CMD));
	if (!edu_dma(bar, EDU_DMA_BUF, dst_pa, bytes, EDU_DMA_TO_RAM))
		die("edu->RAM DMA still running after 2 s (cmd=0x%x)", rd32(bar, EDU_DMA_CMD));

	for (uint32_t i = 0; i < DMA_BUF_BYTES; i++) {
		/* The rest of the page must be untouched. */
		if (dst[i] != (i < bytes ? src[i] : 0x5a)) {
			bad = i;
			break;
		}
	}
	printf("pcitool edu-dma bdf=%s id=0x%08x src=0x%" PRIx64 " dst=0x%" PRIx64
	       " bytes=%u match=%s\n",
	       bdf, id, src_pa, dst_pa, bytes, bad < 0 ? "yes" : "no");
	fflush(stdout);
	if (bad >= 0)
		die("data differs from offset %ld (src 0x%02x, dst 0x%02x)", bad, src[bad],
		    dst[bad]);
	return 0;
}

/* Current value of the uio event counter, from /sys/class/uio/uioX/event. */
static long uio_sysfs_events(const char *uiodev)
{
	char path[512], buf[32], *tmp = strdup(uiodev);
	long v = -1;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/uio/%s/event", basename(tmp));
	free(tmp);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = 0;
		v = strtol(buf, NULL, 10);
	}
	return v;
}

/*
 * Wait up to timeout_ms for uio events; returns how many arrived (from the
 * cumulative counter), 0 on timeout. *last is the counter already accounted
 * for, -1 if unknown (then the first read counts as one event).
 */
static long uio_wait(int fd, int timeout_ms, long *last)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint32_t count;
	long got;
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		die("poll uio: %s", strerror(errno));
	if (r == 0)
		return 0;
	if (read(fd, &count, 4) != 4)
		die("read uio: %s", strerror(errno));
	got = *last < 0 ? 1 : (long)(uint32_t)(count - (uint32_t)*last);
	*last = count;
	return got;
}

enum unmask_how { UNMASK_UNKNOWN, UNMASK_UIO, UNMASK_CONFIG };

static void intx_unmask(int uiofd, int cfg, enum unmask_how *how)
{
	uint32_t one = 1;
	uint16_t cmd;

	if (*how != UNMASK_CONFIG) {
		if (write(uiofd, &one, 4) == 4) {
			*how = UNMASK_UIO;
			return;
		}
		if ((errno != ENOSYS && errno != EIO) || *how == UNMASK_UIO)
			die("write uio (irqcontrol): %s", strerror(errno));
		*how = UNMASK_CONFIG;
	}
	/*
	 * No read-back check: if the line is still asserted the kernel's
	 * handler may set INTX_DISABLE again at once, which the caller sees as
	 * an extra event.
	 */
	cmd = cfg_rd16(cfg, PCI_COMMAND);
	if (cmd & PCI_COMMAND_INTX_DISABLE)
		cfg_wr16(cfg, PCI_COMMAND, cmd & ~PCI_COMMAND_INTX_DISABLE);
}

static int cmd_edu_intx(const char *bdf, const char *uiodev, long rounds)
{
	long delivered = 0, extra = 0, status_int = 0, last, got;
	enum unmask_how how = UNMASK_UNKNOWN;
	const char *fail = NULL;
	volatile uint8_t *bar;
	char devdir[256];
	size_t barlen;
	int uiofd, cfg;
	long r;

	snprintf(devdir, sizeof(devdir), "/sys/bus/pci/devices/%s", bdf);
	cfg = cfg_open(devdir);
	cfg_command(cfg, PCI_COMMAND_MEMORY, 0);
	bar = map_bar0(devdir, &barlen);
	if (barlen < EDU_BAR_MIN || (rd32(bar, EDU_ID) & 0xffff) != 0x00ed)
		die("%s resource0 is not an edu device", bdf);
	uiofd = open(uiodev, O_RDWR);
	if (uiofd < 0)
		die("open %s: %s", uiodev, strerror(errno));

	/* Start clean: nothing pending at edu, INTx unmasked, no stray events. */
	wr32(bar, EDU_IRQ_ACK, ~0u);
	intx_unmask(uiofd, cfg, &how);
	last = uio_sysfs_events(uiodev);
	if (uio_wait(uiofd, 100, &last))
		die("interrupt event with nothing raised");

	for (r = 1; r <= rounds; r++) {
		uint32_t val = 0x100 | (r & 0xff);

		wr32(bar, EDU_IRQ_RAISE, val);
		got = uio_wait(uiofd, 2000, &last);
		if (!got) {
			fail = "no interrupt within 2 s";
			break;
		}
		delivered += got;
		if (cfg_rd16(cfg, PCI_STATUS) & PCI_STATUS_INTERRUPT)
			status_int++;
		wr32(bar, EDU_IRQ_ACK, val);
		intx_unmask(uiofd, cfg, &how);
		got = uio_wait(uiofd, 100, &last);
		if (got) {
			/* Line still (or again) asserted: count it and unmask again. */
			extra += got;
			wr32(bar, EDU_IRQ_ACK, ~0u);
			intx_unmask(uiofd, cfg, &how);
		}
	}
	printf("pcitool edu-intx bdf=%s raised=%ld delivered=%ld extra=%ld status_int=%ld", bdf,
	       r > rounds ? rounds : r, delivered, extra, status_int);
	printf(" unmask=%s\n", how == UNMASK_UIO ? "uio" : "config");
	fflush(stdout);
	if (fail)
		die("round %ld: %s (edu irq status 0x%x, Command 0x%04x, Status 0x%04x)", r, fail,
		    rd32(bar, EDU_IRQ_STATUS), cfg_rd16(cfg, PCI_COMMAND),
		    cfg_rd16(cfg, PCI_STATUS));
	if (delivered != rounds || extra)
		die("raised %ld, delivered %ld, extra %ld", rounds, delivered, extra);
	return 0;
}

/* Turn memory decoding on for the device owning a sysfs resource file. */
static void enable_for_resource(const char *file)
{
	char *tmp = strdup(file), *dir = dirname(tmp), path[512];
	uint8_t b[2];
	int fd;

	snprintf(path, sizeof(path), "%s/config", dir);
	fd = open(path, O_RDONLY);
	if (fd >= 0 && pread(fd, b, 2, PCI_COMMAND) == 2 && !(b[0] & PCI_COMMAND_MEMORY)) {
		snprintf(path, sizeof(path), "%s/enable", dir);
		write_str(path, "1");
	}
	if (fd >= 0)
		close(fd);
	free(tmp);
}

static int cmd_bw(const char *file, long kib)
{
	volatile uint64_t *p;
	uint64_t sum = 0;
	double t0, t, wsec, rsec;
	long wpass = 0, rpass = 0;
	size_t len, n;

	if (kib <= 0)
		die("SIZE must be positive");
	enable_for_resource(file);
	p = (volatile uint64_t *)map_file(file, &len, (size_t)kib << 10);
	n = len / 8;
	if (!n)
		die("%s: mapping smaller than 8 bytes", file);

	t0 = now_s();
	do {
		uint64_t v = 0x0101010101010101ULL * (wpass & 0xff);

		for (size_t i = 0; i < n; i++)
			st64(&p[i], v);
		wpass++;
		t = now_s();
	} while (t - t0 < 0.5);
	wsec = t - t0;

	t0 = now_s();
	do {
		for (size_t i = 0; i < n; i++)
			sum += ld64(&p[i]);
		rpass++;
		t = now_s();
	} while (t - t0 < 0.5);
	rsec = t - t0;
	bw_sink = sum;

	printf("pcitool bw file=%s bytes=%zu write_MBps=%.3f read_MBps=%.3f\n", file, n * 8,
	       (double)n * 8 * wpass / wsec / 1e6, (double)n * 8 * rpass / rsec / 1e6);
	return 0;
}

/*
 * A load pair from the first 16 bytes of a BAR: an access a hypervisor
 * cannot decode when the BAR is trapped (no syndrome). The VMM must answer
 * with an abort to the guest (this process then dies of SIGBUS), not die.
 * If the BAR is mapped (a memory slot), the load simply completes.
 */
static int cmd_ldp(const char *file)
{
	volatile uint8_t *p;
	uint64_t a = 0, b = 0;
	size_t len;

	enable_for_resource(file);
	p = map_file(file, &len, 4096);
	if (len < 16)
		die("%s: mapping smaller than 16 bytes", file);
	printf("pcitool ldp file=%s start\n", file);
	fflush(stdout);
#ifdef __aarch64__
	__asm__ volatile("ldp %x0, %x1, [%2]" : "=r"(a), "=r"(b) : "r"(p) : "memory");
#else
	a = ((volatile uint64_t *)p)[0];
	b = ((volatile uint64_t *)p)[1];
#endif
	printf("pcitool ldp file=%s completed a=0x%llx b=0x%llx\n", file, (unsigned long long)a,
	       (unsigned long long)b);
	return 0;
}

/* [off, off + len) of a mapping of @file, checked; len a multiple of 4. */
static volatile uint32_t *map_range(const char *file, unsigned long off, unsigned long len)
{
	volatile uint8_t *p;
	size_t maplen;

	if (off % 4 || len % 4 || !len)
		die("offset and length must be non-zero multiples of 4");
	enable_for_resource(file);
	p = map_file(file, &maplen, 0);
	if (off > maplen || len > maplen - off)
		die("%s: [0x%lx, +0x%lx) is outside its %zu bytes", file, off, len, maplen);
	return (volatile uint32_t *)(p + off);
}

static inline uint32_t ld32(const volatile uint32_t *p)
{
	uint32_t v;

#ifdef __aarch64__
	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(p) : "memory");
#else
	v = *p;
#endif
	return v;
}

static inline void st32(volatile uint32_t *p, uint32_t v)
{
#ifdef __aarch64__
	__asm__ volatile("str %w0, [%1]" : : "rZ"(v), "r"(p) : "memory");
#else
	*p = v;
#endif
}

/* Copy [off, off + len) of a BAR mapping to stdout, 32 bits at a time. */
static int cmd_read(const char *file, unsigned long off, unsigned long len)
{
	volatile uint32_t *p = map_range(file, off, len);

	for (unsigned long i = 0; i < len / 4; i++) {
		uint32_t v = ld32(&p[i]);

		if (fwrite(&v, 4, 1, stdout) != 1)
			die("write to stdout: %s", strerror(errno));
	}
	return fflush(stdout) ? 1 : 0;
}

/* Copy stdin (up to len bytes, zero-padded to 4) into the mapping at off. */
static int cmd_write(const char *file, unsigned long off, unsigned long len)
{
	volatile uint32_t *p = map_range(file, off, len);
	unsigned long i;

	for (i = 0; i < len / 4; i++) {
		uint32_t v = 0;

		if (!fread(&v, 1, 4, stdin))
			break;
		st32(&p[i], v);
	}
	printf("pcitool write file=%s off=0x%lx bytes=%lu\n", file, off, i * 4);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: pcitool edu-dma BDF [BYTES]\n"
			"       pcitool edu-intx BDF UIODEV ROUNDS\n"
			"       pcitool bw RESOURCE_FILE SIZE   (MiB, or KiB with a K suffix)\n"
			"       pcitool ldp RESOURCE_FILE\n"
			"       pcitool read RESOURCE_FILE OFFSET LENGTH   (raw bytes to stdout)\n"
			"       pcitool write RESOURCE_FILE OFFSET LENGTH  (bytes from stdin)\n");
	exit(1);
}

int main(int argc, char **argv)
{
	char *end;
	long n;

	if (argc < 2)
		usage();
	cmd_name = argv[1];
	if (!strcmp(argv[1], "edu-dma") && (argc == 3 || argc == 4)) {
		n = DMA_DEF_BYTES;
		if (argc == 4) {
			n = strtol(argv[3], &end, 0);
			if (*end || n <= 0 || n > DMA_BUF_BYTES)
				die("bad byte count '%s' (1..%d)", argv[3], DMA_BUF_BYTES);
		}
		return cmd_edu_dma(argv[2], n);
	}
	if (!strcmp(argv[1], "edu-intx") && argc == 5) {
		n = strtol(argv[4], &end, 0);
		if (*end || n <= 0)
			die("bad round count '%s'", argv[4]);
		return cmd_edu_intx(argv[2], argv[3], n);
	}
	if ((!strcmp(argv[1], "read") || !strcmp(argv[1], "write")) && argc == 5) {
		unsigned long off = strtoul(argv[3], &end, 0), len;

		if (*end)
			die("bad offset '%s'", argv[3]);
		len = strtoul(argv[4], &end, 0);
		if (*end)
			die("bad length '%s'", argv[4]);
		return argv[1][0] == 'r' ? cmd_read(argv[2], off, len)
					 : cmd_write(argv[2], off, len);
	}
	if (!strcmp(argv[1], "ldp") && argc == 3)
		return cmd_ldp(argv[2]);
	if (!strcmp(argv[1], "bw") && argc == 4) {
		/* SIZE: MiB, or KiB with a K suffix (a trapped BAR is slow: measure less). */
		n = strtol(argv[3], &end, 0);
		if (*end == 'K' && !end[1])
			return cmd_bw(argv[2], n);
		if (*end)
			die("bad size '%s'", argv[3]);
		return cmd_bw(argv[2], n > LONG_MAX >> 10 ? -1 : n << 10);
	}
	usage();
	return 1;
}
