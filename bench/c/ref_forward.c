/*
 * The C reference forwarder of the benchmark: attaches to two persistent
 * TAPs and copies every frame read from the first to the second, one
 * blocking read() and one write() per frame, until killed. It is the
 * simplest fast forwarder there is, measured on the same topology as
 * taplab's path. Usage: ref_forward IN OUT
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "tap_attach.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: ref_forward IN OUT\n");
		return 64;
	}
	int in = tap_attach(argv[1], 0), out = tap_attach(argv[2], 0);
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
