/*
 * Attach to an existing persistent TAP by name, for the benchmark's C
 * forwarders: /dev/net/tun opened with `oflags` added to O_RDWR|O_CLOEXEC,
 * then TUNSETIFF as IFF_TAP|IFF_NO_PI. Returns the fd, or -1 with errno set.
 */
#ifndef TAPLAB_BENCH_TAP_ATTACH_H
#define TAPLAB_BENCH_TAP_ATTACH_H
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int tap_attach(const char *name, int oflags)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | oflags);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
#endif
