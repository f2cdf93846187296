/*
 * A second C forwarder for the benchmark, the batched counterpart of
 * ref_forward: the same job (every frame read from one TAP is written to
 * the other), but with taplab's system-call pattern and none of its
 * JavaScript. Each turn submits up to BATCH reads (RWF_NOWAIT, into BATCH
 * buffers) in one io_uring_enter, then the frames it got as as many writes
 * in a second one; when a turn reads nothing it sleeps in poll(). Its rate
 * is what batching alone gives on this kernel, so the benchmark can say how
 * much of that taplab's per-frame path uses up.
 * Usage: uring_forward IN OUT [BATCH]   (BATCH 1..256, default 64)
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tap_attach.h"

#define SLOT 2048
#define MAX_BATCH 256

/* Submit what is queued, wait for `n` completions, and store each result by
 * its user_data. Returns 0 or a negative errno. */
static int run(struct io_uring *ring, unsigned n, int *res)
{
	int r;
	do
		r = io_uring_submit_and_wait(ring, n);
	while (r == -EINTR);
	if (r < 0)
		return r;
	for (unsigned got = 0; got < n;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(ring, head, cqe)
		{
			res[cqe->user_data] = cqe->res;
			seen++;
		}
		io_uring_cq_advance(ring, seen);
		got += seen;
		if (got < n && !seen && (r = io_uring_wait_cqe(ring, &cqe)) < 0 && r != -EINTR)
			return r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: uring_forward IN OUT [BATCH]\n");
		return 64;
	}
	int batch = argc == 4 ? atoi(argv[3]) : 64;
	if (batch < 1 || batch > MAX_BATCH) {
		fprintf(stderr, "uring_forward: BATCH must be 1..%d\n", MAX_BATCH);
		return 64;
	}
	int fds[2] = { tap_attach(argv[1], O_NONBLOCK), tap_attach(argv[2], O_NONBLOCK) };
	if (fds[0] < 0 || fds[1] < 0) {
		perror("uring_forward: attach");
		return 71;
	}
	struct io_uring ring;
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	int r = io_uring_queue_init_params(MAX_BATCH, &ring, &p);
	if (r == -EINVAL) {
		/* A kernel before 6.1 has no DEFER_TASKRUN: plain setup, as the addon falls back. */
		memset(&p, 0, sizeof p);
		r = io_uring_queue_init_params(MAX_BATCH, &ring, &p);
	}
	if (r < 0) {
		fprintf(stderr, "uring_forward: io_uring_queue_init: %s\n", strerror(-r));
		return 71;
	}
	if ((r = io_uring_register_files(&ring, fds, 2)) < 0) {
		fprintf(stderr, "uring_forward: io_uring_register_files: %s\n", strerror(-r));
		return 71;
	}
	static unsigned char buf[MAX_BATCH][SLOT];
	int res[MAX_BATCH];
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		for (int k = 0; k < batch; k++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			io_uring_prep_read(sqe, 0, buf[k], SLOT, 0);
			sqe->flags |= IOSQE_FIXED_FILE;
			sqe->rw_flags = RWF_NOWAIT;
			sqe->user_data = k;
		}
		if ((r = run(&ring, batch, res)) < 0)
			break;
		int n = 0;
		for (int k = 0; k < batch; k++)
			if (res[k] > 0) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
				io_uring_prep_write(sqe, 1, buf[k], res[k], 0);
				sqe->flags |= IOSQE_FIXED_FILE;
				sqe->rw_flags = RWF_NOWAIT;
				sqe->user_data = n++;
			} else if (res[k] != -EAGAIN && res[k] != -EINTR) {
				fprintf(stderr, "uring_forward: read: %s\n", strerror(-res[k]));
				return 74;
			}
		if (n == 0) {
			struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
			poll(&pfd, 1, 1000);
			continue;
		}
		if ((r = run(&ring, n, res)) < 0)
			break;
		/* A full TAP queue (EAGAIN) drops the frame, as ref_forward's would block;
		 * anything else means this floor does not measure what it should. */
		for (int k = 0; k < n; k++)
			if (res[k] < 0 && res[k] != -EAGAIN) {
				fprintf(stderr, "uring_forward: write: %s\n", strerror(-res[k]));
				return 74;
			}
	}
	fprintf(stderr, "uring_forward: io_uring_enter: %s\n", strerror(-r));
	return 74;
}
