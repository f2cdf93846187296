/*
 * Frame generator for the forwarding benchmark: sends frames of a given
 * size out of one interface through an AF_PACKET socket, in batches with
 * sendmmsg, until the given number of seconds has passed. Run it inside the
 * benchmark's private network namespace; the interface is a TAP, so every
 * frame is queued for the forwarder reading that TAP and the input never
 * runs dry. Usage: gen IFNAME SIZE SECONDS DSTMAC
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: gen IFNAME SIZE SECONDS DSTMAC\n");
		return 64;
	}
	int size = atoi(argv[2]);
	double seconds = atof(argv[3]);
	unsigned char frame[2048] = { 0 };
	unsigned int m[6];
	if (size < 60 || size > 1514 || sscanf(argv[4], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
		fprintf(stderr, "gen: bad size or MAC\n");
		return 64;
	}
	for (int i = 0; i < 6; i++)
		frame[i] = m[i];
	memcpy(frame + 6, "\x02\x00\x00\x00\x99\x01", 6);
	frame[12] = 0x88; /* IEEE 802 local experimental EtherType 0x88b5 */
	frame[13] = 0xb5;

	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("gen: socket");
		return 71;
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = if_nametoindex(argv[1]) };
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
		perror("gen: bind");
		return 71;
	}
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = frame;
		iov[i].iov_len = size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	double end = now() + seconds;
	unsigned long sent = 0;
	while (now() < end) {
		int n = sendmmsg(fd, msgs, BATCH, 0);
		if (n > 0)
			sent += n;
	}
	printf("%lu\n", sent);
	return 0;
}
