/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_ARM64_LAYOUT_H
#define COHO_ARM64_LAYOUT_H

/*
 * The arm64 machine: every guest physical address and interrupt number lives
 * here, and the device tree is generated from these constants.
 *
 *   start            end              what
 *   0x00_0000_0000   0x00_0800_0000   unused (reserved for flash)
 *   0x00_0800_0000   0x00_0801_0000   GIC distributor (v2 and v3)
 *   0x00_0801_0000   0x00_0801_2000   GICv2 CPU interface
 *   0x00_0802_0000   0x00_0804_0000   GICv3 ITS
 *   0x00_0900_0000   0x00_0900_1000   8250 UART (ttyS0)
 *   0x00_0901_0000   0x00_0901_1000   PL031 RTC
 *   0x00_0a00_0000   0x00_0b00_0000   virtio-mmio slots                   (#3)
 *   0x00_0c00_0000   0x00_1000_0000   GICv3 redistributors, 128 KiB/vCPU (512)
 *   0x00_1000_0000   0x00_1100_0000   PCI ECAM, bridge 0 (virtio, 16 buses) (#3)
 *   0x00_1100_0000   0x00_1200_0000   PCI ECAM, VFIO bridges 1 and 2, 8 buses each (#4)
 *   0x00_2000_0000   0x00_3000_0000   PCI 32-bit MMIO, bridge 0           (#3)
 *   0x00_3000_0000   0x00_4000_0000   PCI 32-bit MMIO, VFIO bridges 1, 2 (128 MiB each)
 *   0x00_4000_0000   +RAM size        RAM (at most 511 GiB)
 *   0x80_0000_0000   0xc0_0000_0000   PCI 64-bit MMIO, bridge 0           (#3)
 *   0xc0_0000_0000   0x100_0000_0000  PCI 64-bit MMIO, VFIO bridges 1, 2 (128 GiB each)
 *
 * Passthrough devices sit on VFIO bridge 1 when their DMA is coherent and
 * on bridge 2 when it is not: dma-coherent is a property of the bridge.
 *
 * The top of the map stays inside a 40-bit IPA space, the KVM default.
 *
 * Interrupts (SPI numbers; the GIC INTID is SPI + 32):
 *   SPI 0   8250 UART
 *   SPI 1   PL031 RTC
 *   SPI 16+ virtio-mmio (#3), SPI 64+ PCI INTx (#3, #4)
 * PPIs (INTID - 16): arch timer sec 13, non-sec 14, virt 11, hyp 10.
 */

#define ARM_GIC_DIST_BASE     0x08000000ULL
#define ARM_GIC_DIST_SIZE     0x00010000ULL
#define ARM_GIC_CPUI_BASE     0x08010000ULL
#define ARM_GIC_CPUI_SIZE     0x00002000ULL
#define ARM_GIC_ITS_BASE      0x08020000ULL
#define ARM_GIC_ITS_SIZE      0x00020000ULL
#define ARM_GIC_REDIST_BASE   0x0c000000ULL
#define ARM_GIC_REDIST_SIZE   0x04000000ULL
#define ARM_GIC_REDIST_STRIDE 0x00020000ULL /* RD_base + SGI_base frames */
#define ARM_GICV3_MAX_CPUS    (ARM_GIC_REDIST_SIZE / ARM_GIC_REDIST_STRIDE)
#define ARM_GICV2_MAX_CPUS    8
/* INTIDs the vGIC implements: 32 private + 224 SPIs; a multiple of 32. */
#define ARM_GIC_NR_IRQS	      256

#define ARM_UART_BASE	  0x09000000ULL
#define ARM_UART_SIZE	  0x00001000ULL
#define ARM_UART_SPI	  0
#define ARM_UART_CLOCK_HZ 1843200

#define ARM_RTC_BASE 0x09010000ULL
#define ARM_RTC_SIZE 0x00001000ULL
#define ARM_RTC_SPI  1

#define ARM_VIRTIO_MMIO_BASE 0x0a000000ULL
#define ARM_VIRTIO_MMIO_SIZE 0x01000000ULL
#define ARM_VIRTIO_MMIO_SPI  16

#define ARM_PCI_ECAM0_BASE    0x10000000ULL
#define ARM_PCI_ECAM1_BASE    0x11000000ULL
#define ARM_PCI_ECAM_SIZE     0x01000000ULL
#define ARM_PCI_MMIO32_0_BASE 0x20000000ULL
#define ARM_PCI_MMIO32_1_BASE 0x30000000ULL
#define ARM_PCI_MMIO32_SIZE   0x10000000ULL
#define ARM_PCI_MMIO64_0_BASE 0x8000000000ULL
#define ARM_PCI_MMIO64_1_BASE 0xc000000000ULL
#define ARM_PCI_MMIO64_SIZE   0x4000000000ULL
#define ARM_PCI_INTX_SPI      64

/* The passthrough bridges: i = 0 (coherent DMA) or 1 (not). */
#define ARM_PCI_VFIO_BRIDGES	    2
#define ARM_PCI_VFIO_ECAM_BASE(i)   (ARM_PCI_ECAM1_BASE + (u64)(i)*ARM_PCI_VFIO_ECAM_SIZE)
#define ARM_PCI_VFIO_ECAM_SIZE	    0x00800000ULL
#define ARM_PCI_VFIO_MMIO32_BASE(i) (ARM_PCI_MMIO32_1_BASE + (u64)(i)*ARM_PCI_VFIO_MMIO32_SIZE)
#define ARM_PCI_VFIO_MMIO32_SIZE    0x08000000ULL
#define ARM_PCI_VFIO_MMIO64_BASE(i) (ARM_PCI_MMIO64_1_BASE + (u64)(i)*ARM_PCI_VFIO_MMIO64_SIZE)
#define ARM_PCI_VFIO_MMIO64_SIZE    0x2000000000ULL
/* ITS device IDs after bridge 0's 16 buses x 256; 8 buses x 256 per bridge. */
#define ARM_PCI_VFIO_DEVID_BASE(i)  (0x1000 + (u32)(i)*0x800)
#define ARM_PCI_VFIO_INTX_SPI(i)    (ARM_PCI_INTX_SPI + 4 + 4 * (u32)(i))

#define ARM_RAM_BASE 0x40000000ULL
#define ARM_RAM_MAX  (ARM_PCI_MMIO64_0_BASE - ARM_RAM_BASE)

/* Arch timer PPIs, as numbered in the DT (INTID - 16). */
#define ARM_TIMER_PPI_SEC    13
#define ARM_TIMER_PPI_NONSEC 14
#define ARM_TIMER_PPI_VIRT   11
#define ARM_TIMER_PPI_HYP    10

/*
 * Boot image placement rules (Documentation/arch/arm64/booting.rst):
 * the kernel sits at a 2 MiB aligned base + text_offset; the DTB is 8-byte
 * aligned and at most 2 MiB; initrd and DTB stay in the first 1 GiB of RAM,
 * which is also inside the 1 GiB aligned window that must hold the kernel.
 */
#define ARM_KERNEL_ALIGN SZ_2M
#define ARM_DTB_MAX_SIZE SZ_2M
#define ARM_BOOT_WINDOW	 SZ_1G

#endif
