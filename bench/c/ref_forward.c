/*
 * The C reference forwarder of the benchmark: attaches to two persistent
 * TAPs and copies every frame read from the first to the second, one
 * blocking read() and one write() per frame, until killed. It is the
 * simplest fast forwarder there is, measured on the same topology as
 * taplab's path. Usage: ref_forward IN OUT
 */
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int tap_attach(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: ref_forward IN OUT\n");
		return 64;
	}
	int in = tap_attach(argv[1]), out = tap_attach(argv[2]);
	if (in < 0 || out < 0) {
		perror("ref_forward: attach");
		return 71;
	}
	/* Tell the harness we are attached. */
	printf("ready\n");
	fflush(stdout);
	unsigned char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n > 0)
			(void)write(out, buf, n);
		else if (n < 0)
			break;
	}
	return 0;
}
