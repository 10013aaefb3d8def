// SPDX-License-Identifier: GPL-2.0
/*
 * edu-msi: prove that an MSI from QEMU's "edu" PCI device reaches the guest.
 *
 * probe() enables MSI (no INTx fallback), then raises `rounds` interrupts one
 * at a time through the device's raise register and checks that each arrives
 * exactly once, with the status the round wrote. It prints
 *   edu-msi: irqs raised=N delivered=M extra=K vector=IRQ
 *   edu-msi: result=ok|fail
 * Built out of tree by build.sh next to this file.
 */
#include <linux/atomic.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/wait.h>

#define EDU_ID	       0x00
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE  0x60
#define EDU_IRQ_ACK    0x64
#define EDU_ID_VALUE   0x010000ed

static unsigned int rounds = 10;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "number of interrupts to raise (default 10)");

struct edu {
	void __iomem *bar;
	atomic_t count; /* handler invocations */
	u32 status;	/* status the last invocation read */
	wait_queue_head_t wq;
};

static irqreturn_t edu_irq(int irq, void *data)
{
	struct edu *edu = data;
	u32 status = ioread32(edu->bar + EDU_IRQ_STATUS);

	/* Count every invocation: one without a status is an extra one too. */
	if (status)
		iowrite32(status, edu->bar + EDU_IRQ_ACK);
	WRITE_ONCE(edu->status, status);
	atomic_inc(&edu->count);
	wake_up(&edu->wq);
	return status ? IRQ_HANDLED : IRQ_NONE;
}

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	unsigned int i, extra = 0, bad = 0;
	struct edu *edu;
	u32 devid;
	int irq, ret;
	bool ok;

	edu = devm_kzalloc(&pdev->dev, sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	init_waitqueue_head(&edu->wq);

	ret = pcim_enable_device(pdev);
	if (ret)
		goto fail;
	pci_set_master(pdev);
	ret = pci_request_region(pdev, 0, "edu_msi");
	if (ret)
		goto fail;
	edu->bar = pcim_iomap(pdev, 0, 0);
	if (!edu->bar) {
		ret = -ENOMEM;
		goto fail;
	}
	devid = ioread32(edu->bar + EDU_ID);
	if (devid != EDU_ID_VALUE) {
		pr_err("edu-msi: BAR0+0x00 reads %#010x, expected %#010x\n", devid, EDU_ID_VALUE);
		ret = -ENODEV;
		goto fail;
	}

	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);
	if (ret < 0) {
		pr_err("edu-msi: no MSI vector (%d); not falling back to INTx\n", ret);
		goto fail;
	}
	irq = pci_irq_vector(pdev, 0);
	ret = request_irq(irq, edu_irq, 0, "edu_msi", edu);
	if (ret) {
		pci_free_irq_vectors(pdev);
		goto fail;
	}
	pci_set_drvdata(pdev, edu);

	for (i = 0; i < rounds; i++) {
		int before = atomic_read(&edu->count);
		u32 val = i + 1;

		iowrite32(val, edu->bar + EDU_IRQ_RAISE);
		if (!wait_event_timeout(edu->wq, atomic_read(&edu->count) != before, HZ)) {
			pr_err("edu-msi: round %u: no interrupt within 1 s\n", i);
			bad++;
			continue;
		}
		if (READ_ONCE(edu->status) != val) {
			pr_err("edu-msi: round %u: status %#x, expected %#x\n", i,
			       READ_ONCE(edu->status), val);
			bad++;
		}
		if (wait_event_timeout(edu->wq, atomic_read(&edu->count) - before > 1,
				       msecs_to_jiffies(50)))
			extra += atomic_read(&edu->count) - before - 1;
	}
	pr_info("edu-msi: irqs raised=%u delivered=%d extra=%u vector=%d\n", rounds,
		atomic_read(&edu->count), extra, irq);
	ok = !bad && !extra && atomic_read(&edu->count) == rounds;
	pr_info("edu-msi: result=%s\n", ok ? "ok" : "fail");
	return 0;

fail:
	dev_err(&pdev->dev, "edu-msi: probe failed (%d)\n", ret);
	pr_info("edu-msi: result=fail\n");
	return ret;
}

static void edu_remove(struct pci_dev *pdev)
{
	free_irq(pci_irq_vector(pdev, 0), pci_get_drvdata(pdev));
	pci_free_irq_vectors(pdev);
}

static const struct pci_device_id edu_ids[] = { { PCI_DEVICE(0x1234, 0x11e8) }, {} };
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver edu_driver = {
	.name = "edu_msi",
	.id_table = edu_ids,
	.probe = edu_probe,
	.remove = edu_remove,
};
module_pci_driver(edu_driver);

MODULE_DESCRIPTION("MSI delivery test for QEMU's edu device");
MODULE_LICENSE("GPL");
