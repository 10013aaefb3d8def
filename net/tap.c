// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/tap.h"
#include "util/log.h"

/* The virtio 1.x net header: virtio_net_hdr plus num_buffers. */
#define TAP_VNET_HDR_LEN 12

/* Run "@script @ifname" and wait for it; 0 only if it exited 0. */
static int tap_run_script(const char *script, const char *ifname)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;

		/* The parent blocks signals for its signalfd; the script gets defaults. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl(script, script, ifname, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		pr_err("network script %s could not be run", script);
	else if (WIFEXITED(status))
		pr_err("network script %s %s exited with %d", script, ifname, WEXITSTATUS(status));
	else
		pr_err("network script %s %s was killed by signal %d", script, ifname,
		       WTERMSIG(status));
	return -ECANCELED;
}

/* Give the interface @ip/@prefix and bring it up. */
static int tap_set_addr(const char *ifname, u32 ip, u32 prefix)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (sock < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ip) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = ip;
		if (ioctl(sock, SIOCSIFADDR, &ifr) < 0)
			ret = -errno;
		sin->sin_addr.s_addr = prefix ? htonl(~0U << (32 - prefix)) : 0;
		if (!ret && ioctl(sock, SIOCSIFNETMASK, &ifr) < 0)
			ret = -errno;
	}
	if (!ret && ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		ret = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!ret && ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		ret = -errno;
	close(sock);
	return ret;
}

int tap_open(struct tap *t, const struct tap_config *cfg)
{
	struct ifreq ifr;
	int hdr = TAP_VNET_HDR_LEN, ret;

	memset(t, 0, sizeof(*t));
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		ret = -errno;
		pr_err("cannot open /dev/net/tun: %s", strerror(errno));
		return ret;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (cfg->name && cfg->name[0]) {
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", cfg->name);
		t->created = if_nametoindex(cfg->name) == 0;
	} else {
		t->created = true;
	}
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		if (errno == EBUSY || errno == EINVAL)
			pr_err("tap %s: the interface exists and is not a free tap device",
			       cfg->name);
		else
			pr_err("cannot create tap %s: %s",
			       cfg->name && cfg->name[0] ? cfg->name : "device", strerror(errno));
		goto fail;
	}
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
	t->name[IFNAMSIZ - 1] = '\0';
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		ret = -errno;
		pr_err("tap %s: cannot set the virtio-net header size: %s", t->name,
		       strerror(errno));
		goto fail;
	}
	if (cfg->script) {
		ret = tap_run_script(cfg->script, t->name);
		if (ret)
			goto fail;
	} else if (cfg->host_ip || t->created) {
		ret = tap_set_addr(t->name, cfg->host_ip, cfg->host_prefix);
		if (ret) {
			pr_err("tap %s: cannot configure the host side: %s", t->name,
			       strerror(-ret));
			goto fail;
		}
	}
	t->downscript = cfg->downscript;
	pr_debug("tap %s %s (fd %d)", t->name, t->created ? "created" : "attached", t->fd);
	return 0;
fail:
	close(t->fd);
	t->fd = -1;
	return ret;
}

int tap_set_offload(struct tap *t, unsigned int tun_flags)
{
	if (ioctl(t->fd, TUNSETOFFLOAD, tun_flags) < 0)
		return -errno;
	return 0;
}

void tap_close(struct tap *t)
{
	if (t->fd < 0)
		return;
	if (t->downscript)
		tap_run_script(t->downscript, t->name);
	close(t->fd);
	t->fd = -1;
}
