/*
 * taplab_tap: the one native piece of taplab. It opens (or attaches to) a
 * Linux TAP device, possibly inside another network namespace, reads frames
 * in batches without blocking the event loop, writes batches (io_uring when
 * the kernel allows it, plain write() otherwise), and programs the TAP's
 * receive filter (TUNSETTXFILTER). No protocol logic lives here.
 *
 * Memory contract with JavaScript: at open we allocate one arena of
 * `batch` fixed-size slots and one Uint32Array of `batch` lengths, both as
 * ordinary JS ArrayBuffers that C keeps a reference to and writes into. A
 * wake-up fills slots 0..n-1 and makes a single JS call onInput(n); JS reads
 * the frames in place before returning. No per-frame allocation.
 *
 * Errors are thrown as Error objects with `code` (errno name, e.g. "EBUSY"),
 * `errno` (Linux number) and `syscall` (which step failed); the TypeScript
 * side turns them into KernErrors with a sentence naming the device.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#define MAX_BATCH 4096
#define MIN_SLOT 64
#define MAX_SLOT (256 * 1024)

#ifdef HAVE_LIBURING
/* IORING_OP_READ_MULTISHOT (kernel 6.7) is newer than liburing 2.3's headers. */
#ifndef IORING_OP_READ_MULTISHOT
#define IORING_OP_READ_MULTISHOT 49
#endif
#define RX_TAG 0x7278ULL     /* user_data of the multishot read */
#define RX_CANCEL_TAG 0x6378ULL
#endif

typedef struct tap {
  napi_env env;
  int fd;
  int nsfd; /* target namespace, kept so stats() works after the path is gone; -1 = ours */
  int ifindex;
  char name[IFNAMSIZ];
  uint32_t batch, slot;
  uint8_t *arena;
  uint32_t *lengths;
  napi_ref arena_ref, lengths_ref;

  uv_poll_t poll;
  int poll_events;   /* what we currently ask libuv for */
  /* The kernel side's IFF_UP, watched through rtnetlink link messages in the
   * TAP's namespace: `ip link set tap0 down` is the cable pulled out. */
  int nlfd;          /* -1: no watcher (the socket could not be made) */
  uv_poll_t nlpoll;
  int kup;           /* the last IFF_UP seen */
  int started;       /* start() was called: JS wants input */
  int want_writable; /* a write hit EAGAIN; tell JS when the fd drains */
  int dead;          /* errno that killed the device (e.g. EBADFD after deletion), 0 while alive */
  int closed;
  int refs; /* the JS wrapper + the uv handles (TAP fd, link watcher); freed when all are gone */

  napi_ref self_ref; /* keeps the JS wrapper alive while we poll, like an open socket */
  napi_ref on_input, on_writable, on_link;
  napi_async_context actx;

  uint64_t tx_errors; /* frames the kernel refused one by one (runts, oversize) */

  int use_uring;
#ifdef HAVE_LIBURING
  struct io_uring ring;
  int ring_live;     /* `ring` exists (until tap_close), whichever paths still use it */
  int uring_fixed;   /* fd registered with the ring: saves a file lookup per SQE */
  int32_t res[1024]; /* completion results of one chunk, by position */
  int rx_batch;      /* input by batches of plain reads on `ring`, one io_uring_enter per batch */
  uint32_t rx_chunk; /* reads to submit first on the next wake-up (adapts to how many were ready) */

  /* Receive ring (separate from the write ring, so that neither reaps the
   * other's completions): one multishot read on the TAP picks buffers from a
   * provided-buffer ring whose buffers are the arena slots. */
  int rx_uring;          /* input comes from the multishot read, not read() */
  int rx_armed;          /* the multishot request is live in the kernel */
  int rx_fixed;          /* fd registered with the receive ring */
  uint16_t rx_head;      /* buffers the kernel has taken from the ring (mod 2^16) */
  uint32_t rx_entries;   /* buffer ring size: a power of two >= batch */
  struct io_uring rring;
  struct io_uring_buf_ring *br;
  size_t br_bytes;
  uint64_t rx_rearms;    /* multishot re-submissions (ENOBUFS or other end) */
#endif
  char uring_note[160];
  char read_note[160];
} tap_t;

static void tap_on_poll(uv_poll_t *h, int status, int events);
#ifdef HAVE_LIBURING
static int submit_chunk(tap_t *t, uint32_t chunk);
#endif

/* ---------- errors ---------- */

static const char *errno_name(int e) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *n = strerrorname_np(e);
  if (n) return n;
#endif
  static char buf[16];
  snprintf(buf, sizeof buf, "E%d", e);
  return buf;
}

static void throw_os(napi_env env, int e, const char *syscall) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(e));
  napi_value code, text, err, num, sc;
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &err);
  napi_create_int32(env, e, &num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, err, "errno", num);
  napi_set_named_property(env, err, "syscall", sc);
  napi_throw(env, err);
}

static void throw_arg(napi_env env, const char *msg) { napi_throw_range_error(env, "EINVAL", msg); }

#define NAPI_OK(call)                                   \
  do {                                                  \
    if ((call) != napi_ok) {                            \
      const napi_extended_error_info *i_;               \
      napi_get_last_error_info(env, &i_);               \
      bool p_;                                          \
      napi_is_exception_pending(env, &p_);              \
      if (!p_) napi_throw_error(env, NULL, i_->error_message ? i_->error_message : "N-API call failed"); \
      return NULL;                                      \
    }                                                   \
  } while (0)

/* ---------- network namespace switching ----------
 * setns(CLONE_NEWNET) changes only the calling thread, which is what we
 * want: the TAP, its ifindex lookup and its stats must be taken in the
 * target namespace, and everything else in the process stays where it was.
 * Failing to come back would silently move the whole JS thread to another
 * namespace, so that is treated as fatal. */

typedef struct { int saved; } nsguard_t;

static int ns_enter(int target, nsguard_t *g) {
  g->saved = -1;
  if (target < 0) return 0;
  g->saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (g->saved < 0) return errno;
  if (setns(target, CLONE_NEWNET) < 0) {
    int e = errno;
    close(g->saved);
    g->saved = -1;
    return e;
  }
  return 0;
}

static void ns_leave(nsguard_t *g) {
  if (g->saved < 0) return;
  if (setns(g->saved, CLONE_NEWNET) < 0)
    napi_fatal_error("taplab_tap", NAPI_AUTO_LENGTH,
                     "could not return to the original network namespace", NAPI_AUTO_LENGTH);
  close(g->saved);
  g->saved = -1;
}

/* ---------- lifetime ---------- */

static void tap_unref(tap_t *t) {
  if (--t->refs == 0) free(t);
}

static void on_poll_closed(uv_handle_t *h) { tap_unref((tap_t *)h->data); }

static void drop_ref(napi_env env, napi_ref *r) {
  if (*r) {
    napi_delete_reference(env, *r);
    *r = NULL;
  }
}

/* Stop watching the fd and let go of the JS objects that kept us alive. */
static void stop_polling(tap_t *t, int in_teardown) {
  if (t->poll_events) uv_poll_stop(&t->poll);
  t->poll_events = 0;
  if (in_teardown) return; /* the env is going away: its references go with it */
  drop_ref(t->env, &t->on_input);
  drop_ref(t->env, &t->on_writable);
  drop_ref(t->env, &t->on_link);
  drop_ref(t->env, &t->self_ref);
  /* t->actx may be in use by the very callback that closed us: it is
   * destroyed with the wrapper, in tap_finalize. */
}

static void env_cleanup(void *arg);

#ifdef HAVE_LIBURING
/* Tear the receive ring down synchronously: the armed multishot read holds a
 * reference on the TAP's file (and writes into the arena), so it is
 * cancelled and its completion reaped before the ring goes, and the buffer
 * ring and the registered file are released explicitly; otherwise the TAP
 * would outlive close() by the ring's asynchronous teardown. Idempotent. */
static void rx_teardown(tap_t *t) {
  if (!t->rx_uring) return;
  t->rx_uring = 0;
  if (t->rx_armed) {
    struct io_uring_sync_cancel_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.addr = RX_TAG;
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    int r = io_uring_register_sync_cancel(&t->rring, &reg);
    if (r < 0 && r != -ENOENT && r != -EALREADY) {
      /* Older kernels: an async cancel SQE, then wait for both completions. */
      struct io_uring_sqe *sqe = io_uring_get_sqe(&t->rring);
      if (sqe) {
        io_uring_prep_cancel64(sqe, RX_TAG, 0);
        sqe->user_data = RX_CANCEL_TAG;
        io_uring_submit_and_wait(&t->rring, 1);
      }
    }
    /* Run the deferred completion work so the request is freed (and lets go
     * of the file) now. */
    io_uring_get_events(&t->rring);
    t->rx_armed = 0;
  }
  io_uring_unregister_buf_ring(&t->rring, 0);
  if (t->rx_fixed) io_uring_unregister_files(&t->rring);
  io_uring_queue_exit(&t->rring);
  if (t->br) munmap(t->br, t->br_bytes);
  t->br = NULL;
}
#endif

static void tap_close(tap_t *t, int in_teardown) {
  if (t->closed) return;
  t->closed = 1;
  stop_polling(t, in_teardown);
  if (!in_teardown) {
    napi_remove_env_cleanup_hook(t->env, env_cleanup, t);
    drop_ref(t->env, &t->arena_ref);
    drop_ref(t->env, &t->lengths_ref);
  }
  uv_close((uv_handle_t *)&t->poll, on_poll_closed);
  if (t->nlfd >= 0) {
    uv_poll_stop(&t->nlpoll);
    uv_close((uv_handle_t *)&t->nlpoll, on_poll_closed);
  }
#ifdef HAVE_LIBURING
  /* A registered file is a reference the ring holds on the TAP, and ring
   * teardown is asynchronous; unregister first so that the device is gone
   * when close() returns, not some milliseconds later. The ring may outlive
   * both paths that used it (each can fall back to read()/write()). */
  if (t->ring_live) {
    if (t->uring_fixed) io_uring_unregister_files(&t->ring);
    io_uring_queue_exit(&t->ring);
    t->ring_live = 0;
  }
  t->use_uring = 0;
  t->rx_batch = 0;
  rx_teardown(t);
#endif
  /* Closing the last fd of a non-persistent TAP deletes the kernel device. */
  if (t->fd >= 0) close(t->fd);
  if (t->nsfd >= 0) close(t->nsfd);
  if (t->nlfd >= 0) close(t->nlfd);
  t->fd = t->nsfd = t->nlfd = -1;
}

static void env_cleanup(void *arg) { tap_close((tap_t *)arg, 1); }

static void tap_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  tap_t *t = data;
  tap_close(t, 0);
  if (t->actx) napi_async_destroy(env, t->actx);
  t->actx = NULL;
  tap_unref(t);
}

static tap_t *unwrap(napi_env env, napi_value obj) {
  void *p = NULL;
  if (napi_unwrap(env, obj, &p) != napi_ok || !p) {
    napi_throw_type_error(env, "EINVAL", "not a taplab TAP handle");
    return NULL;
  }
  return p;
}

/* ---------- calling JS from the event loop ---------- */

static void call_js(tap_t *t, napi_ref fnref, size_t argc, napi_value *argv) {
  napi_env env = t->env;
  napi_value fn, global;
  if (!fnref || napi_get_reference_value(env, fnref, &fn) != napi_ok || !fn) return;
  napi_get_global(env, &global);
  /* make_callback (not call_function) so nextTicks and microtasks queued by
   * the handler run before we return to libuv, as for any Node I/O event. */
  if (napi_make_callback(env, t->actx, global, fn, argc, argv, NULL) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
      napi_fatal_exception(env, e);
    }
  }
}

static void link_down(tap_t *t, int err) {
  t->dead = err;
  if (t->nlfd >= 0) uv_poll_stop(&t->nlpoll); /* nothing to watch on a dead device */
  napi_handle_scope scope;
  napi_open_handle_scope(t->env, &scope);
  napi_value argv[2];
  napi_get_boolean(t->env, false, &argv[0]);
  napi_create_string_utf8(t->env, errno_name(err), NAPI_AUTO_LENGTH, &argv[1]);
  napi_ref cb = t->on_link;
  t->on_link = NULL; /* reported once */
  call_js(t, cb, 2, argv);
  if (cb) napi_delete_reference(t->env, cb);
  napi_close_handle_scope(t->env, scope);
  if (!t->closed) stop_polling(t, 0);
}

/* Tell JS the kernel side's IFF_UP changed, with no error: a carrier change.
 * Returns 0 if the device is still open and alive afterwards. */
static int report_kup(tap_t *t, int up) {
  if (up == t->kup) return 0;
  t->kup = up;
  if (!t->on_link) return 0;
  napi_handle_scope scope;
  napi_open_handle_scope(t->env, &scope);
  napi_value argv[2];
  napi_get_boolean(t->env, up, &argv[0]);
  napi_create_string_utf8(t->env, "", 0, &argv[1]);
  call_js(t, t->on_link, 2, argv);
  napi_close_handle_scope(t->env, scope);
  return t->closed || t->dead;
}

/* Link messages were lost (the socket overflowed): ask the kernel for the
 * state itself, in the TAP's namespace. A failure means the TAP is going
 * away, which its own fd reports. */
static void resync_kup(tap_t *t) {
  nsguard_t g;
  if (ns_enter(t->nsfd, &g)) return;
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, t->name, IFNAMSIZ);
  int ok = sock >= 0 && ioctl(sock, SIOCGIFFLAGS, &ifr) == 0;
  if (sock >= 0) close(sock);
  ns_leave(&g);
  if (ok) report_kup(t, (ifr.ifr_flags & IFF_UP) != 0);
}

/* The kernel side went up or down (rtnetlink RTM_NEWLINK for our index).
 * Other link messages (other interfaces, MTU or flag changes that leave
 * IFF_UP alone) are ignored; a deleted TAP is noticed on the TAP's own fd.
 * An overrun (ENOBUFS; libuv reports it as a poll error and stops the
 * handle) loses messages: re-read the state and watch on. */
static void on_link_msg(uv_poll_t *h, int status, int events) {
  tap_t *t = h->data;
  (void)events;
  if (t->closed || t->dead) return;
  char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
  int lost = status < 0;
  for (int rounds = 0; rounds < 64; rounds++) {
    ssize_t n = recv(t->nlfd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOBUFS) {
      lost = 1;
      continue;
    }
    if (n <= 0) break; /* EAGAIN: all read */
    int len = (int)n;
    for (struct nlmsghdr *m = (struct nlmsghdr *)buf; NLMSG_OK(m, len); m = NLMSG_NEXT(m, len)) {
      if (m->nlmsg_type != RTM_NEWLINK || m->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) continue;
      struct ifinfomsg *ifi = NLMSG_DATA(m);
      if (ifi->ifi_index != t->ifindex) continue;
      if (report_kup(t, (ifi->ifi_flags & IFF_UP) != 0)) return;
    }
  }
  if (lost) {
    resync_kup(t);
    if (t->closed || t->dead) return;
    uv_poll_start(&t->nlpoll, UV_READABLE, on_link_msg);
  }
}

static void set_poll(tap_t *t) {
  int ev = (t->started ? UV_READABLE : 0) | (t->want_writable ? UV_WRITABLE : 0);
  if (ev == t->poll_events || t->closed || t->dead) return;
  if (ev)
    uv_poll_start(&t->poll, ev, tap_on_poll);
  else
    uv_poll_stop(&t->poll);
  t->poll_events = ev;
}

static void deliver(tap_t *t, uint32_t n) {
  if (!n) return;
  napi_handle_scope scope;
  napi_open_handle_scope(t->env, &scope);
  napi_value argv[1];
  napi_create_uint32(t->env, n, &argv[0]);
  call_js(t, t->on_input, 1, argv);
  napi_close_handle_scope(t->env, scope);
}

#ifdef HAVE_LIBURING
/* Put arena slots 0..batch-1, in that order, at the ring positions the
 * kernel takes next (rx_head..rx_head+batch-1). The kernel only looks at the
 * buffer ring from this thread (inline issue, or the deferred task work we
 * run in io_uring_enter), never while we are in user space, so entries it
 * has not taken yet may be rewritten: every batch therefore lands in slots
 * 0..n-1, as with read(), and JS sees the same contract on both paths. At
 * most `batch` buffers are offered, which is what bounds a batch. */
static void rx_refill(tap_t *t) {
  uint32_t mask = t->rx_entries - 1;
  for (uint32_t k = 0; k < t->batch; k++) {
    struct io_uring_buf *b = &t->br->bufs[(uint16_t)(t->rx_head + k) & mask];
    b->addr = (uint64_t)(uintptr_t)(t->arena + (size_t)k * t->slot);
    b->len = t->slot;
    b->bid = (uint16_t)k;
  }
  io_uring_smp_store_release(&t->br->tail, (uint16_t)(t->rx_head + t->batch));
}

static void rx_arm(tap_t *t) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&t->rring);
  if (!sqe) return; /* cannot happen: we keep at most one SQE queued */
  io_uring_prep_rw(IORING_OP_READ_MULTISHOT, sqe, t->rx_fixed ? 0 : t->fd, NULL, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT | (t->rx_fixed ? IOSQE_FIXED_FILE : 0);
  sqe->buf_group = 0;
  sqe->user_data = RX_TAG;
  t->rx_armed = 1;
}

/* One io_uring_enter per wake-up: it (re)submits the multishot read if it
 * ended and runs the deferred task work, i.e. the reads themselves, which
 * post one CQE per frame. Then one JS call for the batch, and the slots go
 * back to the ring. Returns an errno that ends the device, or 0. */
static int drain_uring(tap_t *t) {
  uint32_t n = 0;
  int err = 0;
  if (!t->rx_armed) rx_arm(t);
  int r;
  do r = io_uring_submit_and_get_events(&t->rring);
  while (r == -EINTR);
  if (r < 0) return -r;
  struct io_uring_cqe *cqe;
  unsigned head, seen = 0;
  io_uring_for_each_cqe(&t->rring, head, cqe) {
    seen++;
    if (cqe->user_data != RX_TAG) continue; /* a cancel's own completion */
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
      t->rx_armed = 0;
      t->rx_rearms++;
    }
    if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
      uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
      t->rx_head++;
      if (n >= t->batch || bid >= t->batch) continue; /* cannot happen: only `batch` buffers are offered */
      /* Buffers are taken in ring order, so bid == n; copy if not. */
      if (bid != n) memmove(t->arena + (size_t)n * t->slot, t->arena + (size_t)bid * t->slot, (size_t)cqe->res);
      t->lengths[n++] = (uint32_t)cqe->res;
    } else if (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -EAGAIN && cqe->res != -ECANCELED &&
               cqe->res != -EINTR) {
      err = -cqe->res; /* EBADFD once the TAP is deleted */
    }
  }
  io_uring_cq_advance(&t->rring, seen);
  deliver(t, n);
  if (n && t->rx_uring) rx_refill(t); /* (rx_uring is 0 if JS closed us meanwhile) */
  return err;
}
#endif

#ifdef HAVE_LIBURING
/* Batched reads: one io_uring_enter submits `chunk` reads into consecutive
 * arena slots, each RWF_NOWAIT on the non-blocking TAP, so they run inline,
 * in order, and a read that finds the queue empty completes with -EAGAIN
 * instead of waiting. A TAP has no read of several frames per call; this
 * keeps tun_do_read per frame but drops the syscall around each one (entry,
 * exit and its CPU-buffer clearing, fd lookup). The first chunk is as large
 * as the last wake-up's batch (4..64), so a quiet TAP costs few EAGAIN reads
 * and a busy one few enters. Frames stay in arrival order: reads execute in
 * submission order, and a frame that slipped in after an -EAGAIN is moved
 * down to close the hole. Returns an errno that ends the device, or 0. */
static int drain_batched(tap_t *t) {
  uint32_t n = 0;
  int err = 0;
  uint32_t want = t->rx_chunk;
  while (n < t->batch && !err) {
    uint32_t chunk = t->batch - n;
    if (chunk > want) chunk = want;
    if (chunk > t->ring.sq.ring_entries) chunk = t->ring.sq.ring_entries;
    for (uint32_t k = 0; k < chunk; k++) {
      struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
      io_uring_prep_read(sqe, t->uring_fixed ? 0 : t->fd, t->arena + (size_t)(n + k) * t->slot, t->slot, 0);
      sqe->rw_flags = RWF_NOWAIT;
      if (t->uring_fixed) sqe->flags |= IOSQE_FIXED_FILE;
      sqe->user_data = k;
    }
    int r = submit_chunk(t, chunk);
    if (r) {
      /* The ring itself failed (not a read): keep what earlier chunks read,
       * and leave io_uring for good, both ways, rather than the device:
       * read() and write() do not depend on it. */
      t->rx_batch = 0;
      t->use_uring = 0;
      snprintf(t->read_note, sizeof t->read_note, "io_uring_enter failed (%s): using read()", errno_name(r));
      snprintf(t->uring_note, sizeof t->uring_note, "io_uring_enter failed (%s): using write()", errno_name(r));
      break;
    }
    uint32_t taken = 0;
    for (uint32_t k = 0; k < chunk; k++) {
      int32_t v = t->res[k];
      if (v > 0) {
        if (k != taken) memmove(t->arena + (size_t)(n + taken) * t->slot, t->arena + (size_t)(n + k) * t->slot, (size_t)v);
        t->lengths[n + taken++] = (uint32_t)v;
      } else if (v == -EOPNOTSUPP || v == -EINVAL) {
        /* This kernel cannot do RWF_NOWAIT reads on a TAP: read() from now on. */
        t->rx_batch = 0;
        snprintf(t->read_note, sizeof t->read_note, "io_uring reads without RWF_NOWAIT on TAPs: using read()");
      } else if (v < 0 && v != -EAGAIN && v != -EINTR && !err) {
        err = -v; /* EBADFD once the TAP is deleted; frames read before it still go up */
      }
    }
    n += taken;
    if (taken < chunk || !t->rx_batch) break; /* the queue is empty (or failed) */
    want = chunk * 2 > 64 ? 64 : chunk * 2;
  }
  t->rx_chunk = n < 4 ? 4 : n > 64 ? 64 : n;
  deliver(t, n);
  return err;
}
#endif

/* Drain every ready frame, up to one arena's worth, then hand the batch to
 * JS in one call. libuv polls level-triggered, so frames left over after a
 * full batch wake us again on the next loop turn instead of starving timers. */
static void drain(tap_t *t) {
#ifdef HAVE_LIBURING
  if (t->rx_uring || t->rx_batch) {
    int err = t->rx_uring ? drain_uring(t) : drain_batched(t);
    if (err && !t->closed && !t->dead) link_down(t, err);
    return;
  }
#endif
  uint32_t n = 0;
  int err = 0;
  while (n < t->batch) {
    ssize_t r = read(t->fd, t->arena + (size_t)n * t->slot, t->slot);
    if (r > 0) {
      t->lengths[n++] = (uint32_t)r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno != EAGAIN) err = errno;
    break;
  }
  deliver(t, n);
  if (err && !t->closed && !t->dead) link_down(t, err);
}

static void tap_on_poll(uv_poll_t *h, int status, int events) {
  tap_t *t = h->data;
  if (t->closed || t->dead) return;
  if (status < 0) {
    /* libuv maps POLLERR to UV_EBADF and has already stopped the watcher.
     * For a TAP that means the device was deleted; read() tells the real
     * reason (EBADFD), and still delivers anything that was queued. */
    t->poll_events = 0;
    drain(t);
#ifdef HAVE_LIBURING
    if (t->rx_uring && !t->closed && !t->dead) {
      /* The multishot read may not have run into the error yet: ask the
       * fd itself for the reason (the device is gone, nothing is lost). */
      uint8_t probe[64];
      ssize_t r = read(t->fd, probe, sizeof probe);
      if (r < 0 && errno != EAGAIN && errno != EINTR) link_down(t, errno);
    }
#endif
    if (!t->closed && !t->dead) link_down(t, EIO);
    return;
  }
  if (events & UV_READABLE) drain(t);
  if (t->closed || t->dead) return;
  if ((events & UV_WRITABLE) && t->want_writable) {
    t->want_writable = 0;
    set_poll(t);
    call_js(t, t->on_writable, 0, NULL);
  }
}

/* ---------- open ---------- */

static int get_prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  bool has = false;
  napi_valuetype ty;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  napi_get_named_property(env, obj, key, out);
  napi_typeof(env, *out, &ty);
  return ty != napi_undefined && ty != napi_null;
}

static int opt_bool(napi_env env, napi_value obj, const char *key, int dflt) {
  napi_value v;
  bool b;
  if (!get_prop(env, obj, key, &v) || napi_get_value_bool(env, v, &b) != napi_ok) return dflt;
  return b;
}

static uint32_t opt_u32(napi_env env, napi_value obj, const char *key, uint32_t dflt) {
  napi_value v;
  uint32_t u;
  if (!get_prop(env, obj, key, &v) || napi_get_value_uint32(env, v, &u) != napi_ok) return dflt;
  return u;
}

/* uringRead: false/"read" = read() per frame, "batch" = batched io_uring
 * reads, true/"multishot" = the multishot read. Anything else: read(). */
enum { READ_PLAIN = 0, READ_MULTISHOT = 1, READ_BATCH = 2 };
static int opt_read_mode(napi_env env, napi_value obj) {
  napi_value v;
  if (!get_prop(env, obj, "uringRead", &v)) return READ_PLAIN;
  napi_valuetype ty;
  napi_typeof(env, v, &ty);
  if (ty == napi_boolean) return opt_bool(env, obj, "uringRead", 0) ? READ_MULTISHOT : READ_PLAIN;
  char mode[16] = {0};
  size_t len = 0;
  if (ty != napi_string || napi_get_value_string_utf8(env, v, mode, sizeof mode, &len) != napi_ok) return READ_PLAIN;
  if (!strcmp(mode, "batch")) return READ_BATCH;
  if (!strcmp(mode, "multishot")) return READ_MULTISHOT;
  return READ_PLAIN;
}

static void setup_uring(tap_t *t, int wanted) {
  t->use_uring = 0;
#ifdef HAVE_LIBURING
  if (!wanted) {
    snprintf(t->uring_note, sizeof t->uring_note, "plain write() requested (ioUring: false)");
    return;
  }
  /* kernel.io_uring_disabled: 0 = on, 1 = privileged only, 2 = off. With 1
   * the ring setup itself tells us whether we are allowed. */
  FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
  if (f) {
    int v = 0;
    if (fscanf(f, "%d", &v) == 1 && v == 2) {
      fclose(f);
      snprintf(t->uring_note, sizeof t->uring_note, "io_uring disabled by sysctl kernel.io_uring_disabled=2");
      return;
    }
    fclose(f);
  }
  unsigned entries = 1;
  while (entries < t->batch && entries < 1024) entries <<= 1;
  int r = -EINVAL;
#if defined(IORING_SETUP_SINGLE_ISSUER) && defined(IORING_SETUP_DEFER_TASKRUN)
  /* Only this thread submits, and it always waits for its completions, so
   * completion work can wait until we ask for it (cheaper on 6.1+). */
  r = io_uring_queue_init(entries, &t->ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
#endif
  if (r < 0) r = io_uring_queue_init(entries, &t->ring, 0);
  if (r < 0) {
    snprintf(t->uring_note, sizeof t->uring_note, "io_uring_queue_init failed (%s): using write()", errno_name(-r));
    return;
  }
  t->ring_live = 1;
  t->uring_fixed = io_uring_register_files(&t->ring, &t->fd, 1) == 0;
  t->use_uring = 1;
  snprintf(t->uring_note, sizeof t->uring_note, "io_uring, %u entries%s", entries,
           t->uring_fixed ? ", fixed file" : "");
#else
  (void)wanted;
  snprintf(t->uring_note, sizeof t->uring_note, "built without liburing: using write()");
#endif
}

/* The receive ring (opt-in, uringRead: true): a multishot read (kernel 6.7+)
 * on the TAP with a provided-buffer ring over the arena slots, on a
 * single-issuer ring with deferred task work, so the reads run only inside
 * our io_uring_enter, batched, on this thread. Anything missing: read().
 *
 * Measured on 6.18 it is not cheaper per frame than read(): the syscall it
 * saves (~0.1 us) is replaced by the multishot machinery (a tun_chr_poll
 * re-check, buffer selection and a CQE per frame), and most of a TAP read
 * is tun_do_read itself (copy out, free the skb) either way. Hence off by
 * default. */
static void setup_uring_read(tap_t *t, int wanted) {
  t->rx_uring = 0;
  t->rx_batch = 0;
#ifdef HAVE_LIBURING
  if (!wanted) {
    snprintf(t->read_note, sizeof t->read_note, "read() per frame (uringRead: false)");
    return;
  }
  if (wanted == READ_BATCH) {
    /* Plain reads on the write ring; needs that ring. */
    if (!t->use_uring) {
      snprintf(t->read_note, sizeof t->read_note, "no io_uring for writes (%.100s): using read()", t->uring_note);
      return;
    }
    t->rx_batch = 1;
    t->rx_chunk = 4;
    snprintf(t->read_note, sizeof t->read_note, "io_uring batched reads (RWF_NOWAIT, one enter per batch)%s",
             t->uring_fixed ? ", fixed file" : "");
    return;
  }
  FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
  if (f) {
    int v = 0;
    int off = fscanf(f, "%d", &v) == 1 && v == 2;
    fclose(f);
    if (off) {
      snprintf(t->read_note, sizeof t->read_note, "io_uring disabled by sysctl kernel.io_uring_disabled=2: using read()");
      return;
    }
  }
  uint32_t entries = 1;
  while (entries < t->batch) entries <<= 1;
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
  /* Room for a full batch of completions plus the terminating ones: a full
   * CQ would end the multishot read. */
  p.cq_entries = 2 * entries < 16 ? 16 : 2 * entries;
  int r = io_uring_queue_init_params(4, &t->rring, &p);
  if (r < 0) {
    snprintf(t->read_note, sizeof t->read_note, "io_uring_queue_init (deferred task work) failed (%s): using read()",
             errno_name(-r));
    return;
  }
  const char *why = NULL;
  struct io_uring_probe *pr = io_uring_get_probe_ring(&t->rring);
  if (!pr || pr->last_op < IORING_OP_READ_MULTISHOT || !io_uring_opcode_supported(pr, IORING_OP_READ_MULTISHOT))
    why = "no IORING_OP_READ_MULTISHOT (kernel < 6.7)";
  if (pr) io_uring_free_probe(pr);
  if (!why) {
    t->br_bytes = ((size_t)entries * sizeof(struct io_uring_buf) + 4095) & ~(size_t)4095;
    void *m = mmap(NULL, t->br_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (m == MAP_FAILED) {
      why = "mmap of the buffer ring failed";
    } else {
      t->br = m;
      struct io_uring_buf_reg reg;
      memset(&reg, 0, sizeof reg);
      reg.ring_addr = (uint64_t)(uintptr_t)m;
      reg.ring_entries = entries;
      reg.bgid = 0;
      r = io_uring_register_buf_ring(&t->rring, &reg, 0);
      if (r < 0) {
        why = "IORING_REGISTER_PBUF_RING failed";
        munmap(m, t->br_bytes);
        t->br = NULL;
      }
    }
  }
  if (why) {
    io_uring_queue_exit(&t->rring);
    snprintf(t->read_note, sizeof t->read_note, "%s: using read()", why);
    return;
  }
  t->rx_entries = entries;
  t->rx_fixed = io_uring_register_files(&t->rring, &t->fd, 1) == 0;
  io_uring_buf_ring_init(t->br);
  t->rx_head = 0;
  rx_refill(t);
  t->rx_uring = 1;
  snprintf(t->read_note, sizeof t->read_note, "io_uring multishot read, %u-buffer ring, deferred task work%s", entries,
           t->rx_fixed ? ", fixed file" : "");
#else
  (void)wanted;
  snprintf(t->read_note, sizeof t->read_note, "built without liburing: using read()");
#endif
}

/* Everything that must happen inside the target namespace. Returns 0 or an
 * errno, with *step naming the failing call. On failure nothing is left
 * behind: a TAP we created disappears when its only fd is closed. */
/* An rtnetlink socket subscribed to link messages, in the current namespace;
 * -1 if it cannot be made (the link state is then not watched). */
static int link_watcher(void) {
  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (nl < 0) return -1;
  /* Room for bursts of other interfaces' messages (an overrun is recovered
   * from, by re-reading the state, but costs a system call or two). */
  int rcv = 1 << 20;
  (void)setsockopt(nl, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK;
  if (bind(nl, (struct sockaddr *)&sa, sizeof sa) < 0) {
    close(nl);
    return -1;
  }
  return nl;
}

static int open_in_ns(const char *name, int attach, int up, int *fd_out, int *ifindex, char *kname,
                      int *nlfd_out, int *kup_out, const char **step) {
  int fd = -1, sock = -1, e = 0;
  struct ifreq ifr;

  /* TUNSETIFF would happily create a device we were only meant to attach
   * to, so check existence first, in this namespace. */
  if (attach && if_nametoindex(name) == 0) {
    *step = "if_nametoindex";
    return ENODEV;
  }
  fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *step = "open /dev/net/tun";
    return errno;
  }
  memset(&ifr, 0, sizeof ifr);
  /* IFF_TUN_EXCL on create: an existing interface of that name is an error
   * (EBUSY) instead of being silently attached to. */
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (attach ? 0 : IFF_TUN_EXCL);
  if (name) memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    *step = "TUNSETIFF";
    e = errno;
    goto fail;
  }
  memcpy(kname, ifr.ifr_name, IFNAMSIZ);
  kname[IFNAMSIZ - 1] = 0;

  sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    *step = "socket";
    e = errno;
    goto fail;
  }
  if (ioctl(sock, SIOCGIFINDEX, &ifr) < 0) {
    *step = "SIOCGIFINDEX";
    e = errno;
    goto fail;
  }
  *ifindex = ifr.ifr_ifindex;
  /* Subscribe before reading the flags, so no change falls in between. */
  *nlfd_out = link_watcher();
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
    *step = "SIOCGIFFLAGS";
    e = errno;
    goto fail;
  }
  if (up && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) {
      *step = "SIOCSIFFLAGS";
      e = errno;
      goto fail;
    }
  }
  *kup_out = (ifr.ifr_flags & IFF_UP) != 0;
  close(sock);
  *fd_out = fd;
  return 0;
fail:
  if (sock >= 0) close(sock);
  if (*nlfd_out >= 0) close(*nlfd_out);
  *nlfd_out = -1;
  close(fd);
  return e;
}

/* The I/O paths of a device, as open() and paths() report them. */
static void set_paths(napi_env env, napi_value obj, tap_t *t) {
  napi_value v;
  napi_get_boolean(env, t->use_uring, &v);
  napi_set_named_property(env, obj, "ioUring", v);
  napi_create_string_utf8(env, t->uring_note, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "writePath", v);
#ifdef HAVE_LIBURING
  napi_create_string_utf8(env, t->rx_uring ? "multishot" : t->rx_batch ? "batch" : "read", NAPI_AUTO_LENGTH, &v);
#else
  napi_create_string_utf8(env, "read", NAPI_AUTO_LENGTH, &v);
#endif
  napi_set_named_property(env, obj, "readMode", v);
  napi_create_string_utf8(env, t->read_note, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "readPath", v);
}

/* open({name?, netns?, attach?, up?, batch?, slotSize?, ioUring?, uringRead?}) */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], v;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype ty = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &ty);
  if (ty != napi_object) {
    throw_arg(env, "open() takes an options object");
    return NULL;
  }
  napi_value o = argv[0];
  char name[IFNAMSIZ + 1] = {0}, nspath[4096] = {0};
  size_t len = 0;
  int has_name = get_prop(env, o, "name", &v);
  if (has_name && (napi_get_value_string_utf8(env, v, name, sizeof name, &len) != napi_ok || len == 0 ||
                   len >= IFNAMSIZ)) {
    throw_arg(env, "name must be a string of 1 to 15 bytes");
    return NULL;
  }
  int has_ns = get_prop(env, o, "netns", &v);
  if (has_ns && (napi_get_value_string_utf8(env, v, nspath, sizeof nspath, &len) != napi_ok || len == 0 ||
                 len >= sizeof nspath - 1)) {
    throw_arg(env, "netns must be a path such as /run/netns/NAME");
    return NULL;
  }
  int attach = opt_bool(env, o, "attach", 0);
  int up = opt_bool(env, o, "up", 0);
  int want_uring = opt_bool(env, o, "ioUring", 1);
  int want_uring_read = opt_read_mode(env, o);
  uint32_t batch = opt_u32(env, o, "batch", 256);
  uint32_t slot = opt_u32(env, o, "slotSize", 2048);
  if (attach && !has_name) {
    throw_arg(env, "attach needs the name of an existing TAP");
    return NULL;
  }
  if (batch < 1 || batch > MAX_BATCH || slot < MIN_SLOT || slot > MAX_SLOT) {
    throw_arg(env, "batch must be 1..4096 and slotSize 64..262144");
    return NULL;
  }

  int nsfd = -1;
  if (has_ns) {
    nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      throw_os(env, errno, "open netns");
      return NULL;
    }
  }
  nsguard_t g;
  int fd = -1, ifindex = 0, nlfd = -1, kup = 0, e;
  const char *step = "setns";
  char kname[IFNAMSIZ] = {0};
  e = ns_enter(nsfd, &g);
  if (e == 0) {
    e = open_in_ns(has_name ? name : NULL, attach, up, &fd, &ifindex, kname, &nlfd, &kup, &step);
    ns_leave(&g);
  }
  if (e) {
    if (nsfd >= 0) close(nsfd);
    throw_os(env, e, step);
    return NULL;
  }

  tap_t *t = calloc(1, sizeof *t);
  if (!t) {
    if (nlfd >= 0) close(nlfd);
    close(fd);
    if (nsfd >= 0) close(nsfd);
    throw_os(env, ENOMEM, "calloc");
    return NULL;
  }
  t->env = env;
  t->fd = fd;
  t->nlfd = nlfd;
  t->kup = kup;
  t->nsfd = nsfd;
  t->ifindex = ifindex;
  memcpy(t->name, kname, IFNAMSIZ);
  t->batch = batch;
  t->slot = slot;
  t->refs = 1;

  /* The arena and lengths are JS-owned ArrayBuffers; the references keep
   * them alive (and their addresses fixed) for as long as C may write. */
  napi_value arena, lenbuf, lengths, handle, result, tmp;
  void *adata, *ldata;
  if (napi_create_arraybuffer(env, (size_t)batch * slot, &adata, &arena) != napi_ok ||
      napi_create_arraybuffer(env, (size_t)batch * 4, &ldata, &lenbuf) != napi_ok) {
    if (nlfd >= 0) close(nlfd);
    close(fd);
    if (nsfd >= 0) close(nsfd);
    free(t);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) throw_os(env, ENOMEM, "allocating the input arena");
    return NULL;
  }
  t->arena = adata;
  t->lengths = ldata;
  napi_create_typedarray(env, napi_uint32_array, batch, lenbuf, 0, &lengths);
  napi_create_reference(env, arena, 1, &t->arena_ref);
  napi_create_reference(env, lenbuf, 1, &t->lengths_ref);

  setup_uring(t, want_uring);
  setup_uring_read(t, want_uring_read);

  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &t->poll, fd);
  t->poll.data = t;
  t->refs++; /* released in on_poll_closed */
  if (t->nlfd >= 0 && uv_poll_init(loop, &t->nlpoll, t->nlfd) == 0) {
    t->nlpoll.data = t;
    t->refs++; /* released in on_poll_closed */
  } else if (t->nlfd >= 0) {
    close(t->nlfd); /* no watcher: the link state is assumed to stay as it is */
    t->nlfd = -1;
  }

  napi_create_object(env, &handle);
  napi_wrap(env, handle, t, tap_finalize, NULL, NULL);
  napi_add_env_cleanup_hook(env, env_cleanup, t);

  napi_create_object(env, &result);
  napi_set_named_property(env, result, "handle", handle);
  napi_create_string_utf8(env, t->name, NAPI_AUTO_LENGTH, &tmp);
  napi_set_named_property(env, result, "name", tmp);
  napi_create_int32(env, ifindex, &tmp);
  napi_set_named_property(env, result, "ifindex", tmp);
  napi_get_boolean(env, t->kup, &tmp);
  napi_set_named_property(env, result, "kernelUp", tmp);
  set_paths(env, result, t);
  napi_set_named_property(env, result, "arena", arena);
  napi_set_named_property(env, result, "lengths", lengths);
  napi_create_uint32(env, batch, &tmp);
  napi_set_named_property(env, result, "batch", tmp);
  napi_create_uint32(env, slot, &tmp);
  napi_set_named_property(env, result, "slotSize", tmp);
  return result;
}

/* start(handle, onInput(count), onWritable(), onLinkState(up, errnoName)) */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], name;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    throw_arg(env, "start(handle, onInput, onWritable, onLinkState)");
    return NULL;
  }
  tap_t *t = unwrap(env, argv[0]);
  if (!t) return NULL;
  if (t->closed) {
    throw_os(env, EBADF, "start (device closed)");
    return NULL;
  }
  if (t->started) {
    throw_os(env, EBUSY, "start (already started)");
    return NULL;
  }
  for (int i = 1; i < 4; i++) {
    napi_valuetype ty;
    napi_typeof(env, argv[i], &ty);
    if (ty != napi_function) {
      napi_throw_type_error(env, "EINVAL", "start() callbacks must be functions");
      return NULL;
    }
  }
  NAPI_OK(napi_create_reference(env, argv[1], 1, &t->on_input));
  NAPI_OK(napi_create_reference(env, argv[2], 1, &t->on_writable));
  NAPI_OK(napi_create_reference(env, argv[3], 1, &t->on_link));
  NAPI_OK(napi_create_reference(env, argv[0], 1, &t->self_ref));
  napi_create_string_utf8(env, "taplab:tap", NAPI_AUTO_LENGTH, &name);
  NAPI_OK(napi_async_init(env, NULL, name, &t->actx));
  t->started = 1;
  if (!t->dead) set_poll(t);
  if (t->nlfd >= 0 && !t->dead) uv_poll_start(&t->nlpoll, UV_READABLE, on_link_msg);
  return NULL;
}

/* ---------- write ---------- */

/* Errors the kernel gives for one bad frame (too short, too long): the frame
 * is gone, the device is fine, so count it and go on. */
static int per_frame_error(int e) { return e == EINVAL || e == EMSGSIZE || e == EFAULT; }

static int write_plain(tap_t *t, const uint8_t *buf, uint32_t slot, uint32_t first, const uint32_t *lens,
                       uint32_t count, uint32_t *accepted) {
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *p = buf + (size_t)(first + i) * slot;
    ssize_t r;
    do r = write(t->fd, p, lens[first + i]);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (errno == EAGAIN || errno == ENOBUFS) return EAGAIN;
      if (!per_frame_error(errno)) return errno;
      t->tx_errors++;
    }
    (*accepted)++;
  }
  return 0;
}

#ifdef HAVE_LIBURING
/* Submit the `chunk` SQEs prepared on the write ring (user_data = position
 * 0..chunk-1) in one io_uring_enter, wait for all of them, and put each
 * result in t->res by position. Returns 0 or an errno. */
static int submit_chunk(tap_t *t, uint32_t chunk) {
  int r;
  do r = io_uring_submit_and_wait(&t->ring, chunk);
  while (r == -EINTR);
  if (r < 0) return -r;
  for (uint32_t got = 0; got < chunk;) {
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&t->ring, head, cqe) {
      t->res[cqe->user_data] = cqe->res;
      seen++;
    }
    io_uring_cq_advance(&t->ring, seen);
    got += seen;
    if (got < chunk && !seen) {
      r = io_uring_wait_cqe(&t->ring, &cqe);
      if (r < 0 && r != -EINTR) return -r;
    }
  }
  return 0;
}

/* The SQEs of one chunk are NOT linked: a link makes the kernel issue each
 * write from task work after the previous one completes, which cost more than
 * the plain write() loop. Unlinked SQEs submitted in one io_uring_enter are
 * still issued in submission order, inline, by this thread. RWF_NOWAIT (and
 * the fd's O_NONBLOCK) make a write that cannot proceed complete at once with
 * -EAGAIN instead of being retried later by the kernel, so a frame is
 * written at most once and never after the frames behind it.
 *
 * What is lost without the link is the guarantee that a failure stops the
 * rest of the chunk: frame k may fail while k+1.. went out. The device
 * contract says "accepted" is a prefix and the unaccepted frames were not
 * sent, so: accepted runs to the last frame the kernel took (or refused on
 * its own, like write_plain's per-frame errors); a frame inside that prefix
 * that failed cannot be sent again without reordering, so it is dropped and
 * counted in tx_errors; the failure right after the prefix decides what the
 * caller hears (EAGAIN = back-pressure, anything else = an error). */
static int write_uring(tap_t *t, const uint8_t *buf, uint32_t slot, uint32_t first, const uint32_t *lens,
                       uint32_t count, uint32_t *accepted) {
  int32_t *res = t->res;
  uint32_t done = 0;
  while (done < count) {
    uint32_t chunk = count - done;
    if (chunk > t->ring.sq.ring_entries) chunk = t->ring.sq.ring_entries;
    if (chunk > 1024) chunk = 1024;
    for (uint32_t k = 0; k < chunk; k++) {
      struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
      uint32_t idx = first + done + k;
      io_uring_prep_write(sqe, t->uring_fixed ? 0 : t->fd, buf + (size_t)idx * slot, lens[idx], 0);
      sqe->rw_flags = RWF_NOWAIT;
      if (t->uring_fixed) sqe->flags |= IOSQE_FIXED_FILE;
      sqe->user_data = k;
    }
    int r = submit_chunk(t, chunk);
    if (r) return r;
    /* taken = frames up to and including the last one the kernel is done with. */
    uint32_t taken = 0;
    for (uint32_t k = chunk; k > 0; k--) {
      int32_t v = res[k - 1];
      if (v >= 0 || per_frame_error(-v)) {
        taken = k;
        break;
      }
    }
    for (uint32_t k = 0; k < taken; k++)
      if (res[k] != (int32_t)lens[first + done + k]) t->tx_errors++; /* refused, short, or a hole */
    *accepted += taken;
    done += taken;
    if (taken < chunk) {
      int e = -res[taken];
      if (e == EOPNOTSUPP) {
        /* This kernel cannot do RWF_NOWAIT writes on a TAP: nothing of the
         * rest was written; continue with write() for good. */
        t->use_uring = 0;
        snprintf(t->uring_note, sizeof t->uring_note, "io_uring without RWF_NOWAIT on TAPs: using write()");
        return write_plain(t, buf, slot, first + done, lens, count - done, accepted);
      }
      return e == EAGAIN || e == ENOBUFS ? EAGAIN : e;
    }
  }
  return 0;
}
#endif

/* write(handle, buf, slotSize, first, lengths, count) -> accepted */
static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], out;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) {
    throw_arg(env, "write(handle, buf, slotSize, first, lengths, count)");
    return NULL;
  }
  tap_t *t = unwrap(env, argv[0]);
  if (!t) return NULL;
  uint8_t *buf;
  size_t blen, llen;
  uint32_t *lens;
  uint32_t slot, first, count;
  napi_typedarray_type ty;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, argv[1], &ty, &blen, (void **)&buf, &ab, &off) != napi_ok ||
      ty != napi_uint8_array) {
    throw_arg(env, "write(): buf must be a Uint8Array");
    return NULL;
  }
  if (napi_get_typedarray_info(env, argv[4], &ty, &llen, (void **)&lens, &ab, &off) != napi_ok ||
      ty != napi_uint32_array) {
    throw_arg(env, "write(): lengths must be a Uint32Array");
    return NULL;
  }
  if (napi_get_value_uint32(env, argv[2], &slot) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &first) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &count) != napi_ok) {
    throw_arg(env, "write(): slotSize, first and count must be numbers");
    return NULL;
  }
  if ((uint64_t)first + count > llen) {
    throw_arg(env, "write(): slots first..first+count-1 lie outside buf or lengths");
    return NULL;
  }
  for (uint32_t i = first; i < first + count; i++)
    if (lens[i] > slot || (uint64_t)i * slot + lens[i] > blen) {
      throw_arg(env, "write(): a frame length exceeds its slot or the buffer");
      return NULL;
    }
  if (t->closed) {
    throw_os(env, EBADF, "write (device closed)");
    return NULL;
  }
  if (t->dead) {
    throw_os(env, t->dead, "write (device gone)");
    return NULL;
  }
  uint32_t accepted = 0;
  int e;
#ifdef HAVE_LIBURING
  if (t->use_uring)
    e = write_uring(t, buf, slot, first, lens, count, &accepted);
  else
#endif
    e = write_plain(t, buf, slot, first, lens, count, &accepted);
  if (e == EAGAIN) {
    t->want_writable = 1;
    set_poll(t);
  } else if (e && accepted == 0) {
    throw_os(env, e, "write");
    return NULL;
  }
  napi_create_uint32(env, accepted, &out);
  return out;
}

/* ---------- filter ---------- */

/* setFilter(handle, flags, addrs: Uint8Array of count*6 bytes) -> number of
 * exact entries the kernel took. Kernel semantics (drivers/net/tun.c): count
 * 0 disables the filter; the first 8 are exact; later multicast addresses go
 * to a 64-bin CRC hash; a unicast address past the eighth disables it. */
static napi_value js_set_filter(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *t = argc >= 3 ? unwrap(env, argv[0]) : NULL;
  if (!t) return NULL;
  uint32_t flags;
  uint8_t *addrs;
  size_t alen;
  napi_typedarray_type ty;
  napi_value ab;
  size_t off;
  if (napi_get_value_uint32(env, argv[1], &flags) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &ty, &alen, (void **)&addrs, &ab, &off) != napi_ok ||
      ty != napi_uint8_array || alen % 6 || alen / 6 > 0xffff) {
    throw_arg(env, "setFilter(handle, flags, addrs) with addrs a Uint8Array of 6-byte addresses");
    return NULL;
  }
  if (t->closed || t->dead) {
    throw_os(env, t->closed ? EBADF : t->dead, "TUNSETTXFILTER (device gone)");
    return NULL;
  }
  struct tun_filter *f = malloc(sizeof *f + alen);
  if (!f) {
    throw_os(env, ENOMEM, "malloc");
    return NULL;
  }
  f->flags = (uint16_t)flags;
  f->count = (uint16_t)(alen / 6);
  memcpy(f->addr, addrs, alen);
  int r = ioctl(t->fd, TUNSETTXFILTER, f);
  int e = errno;
  free(f);
  if (r < 0) {
    throw_os(env, e, "TUNSETTXFILTER");
    return NULL;
  }
  napi_create_int32(env, r, &out);
  return out;
}

/* ---------- stats ---------- */

static void set_num(napi_env env, napi_value o, const char *k, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, o, k, n);
}

/* paths(handle) -> {ioUring, writePath, readMode, readPath}: the I/O paths
 * in use now (a fallback may have changed them since open). */
static napi_value js_paths(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *t = argc >= 1 ? unwrap(env, argv[0]) : NULL;
  if (!t) return NULL;
  napi_create_object(env, &out);
  set_paths(env, out, t);
  return out;
}

/* stats(handle) -> {txDropped, rxDropped, txPackets, rxPackets, txBytes,
 * rxBytes, txErrors} or null when the interface no longer exists. Counters
 * are the kernel's (its tx = frames towards us), 32-bit as getifaddrs()
 * reports them. */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *t = argc >= 1 ? unwrap(env, argv[0]) : NULL;
  if (!t) return NULL;
  if (t->closed) {
    napi_get_null(env, &out);
    return out;
  }
  struct ifaddrs *list = NULL;
  nsguard_t g;
  int e = ns_enter(t->nsfd, &g);
  if (e == 0) {
    if (getifaddrs(&list) < 0) e = errno;
    ns_leave(&g);
  }
  if (e) {
    throw_os(env, e, "getifaddrs");
    return NULL;
  }
  napi_get_null(env, &out);
  for (struct ifaddrs *a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_PACKET || !a->ifa_data) continue;
    if (((struct sockaddr_ll *)a->ifa_addr)->sll_ifindex != t->ifindex) continue;
    struct rtnl_link_stats *s = a->ifa_data;
    napi_create_object(env, &out);
    set_num(env, out, "txDropped", s->tx_dropped);
    set_num(env, out, "rxDropped", s->rx_dropped);
    set_num(env, out, "txPackets", s->tx_packets);
    set_num(env, out, "rxPackets", s->rx_packets);
    set_num(env, out, "txBytes", s->tx_bytes);
    set_num(env, out, "rxBytes", s->rx_bytes);
    set_num(env, out, "txErrors", (double)t->tx_errors);
    break;
  }
  freeifaddrs(list);
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *t = argc >= 1 ? unwrap(env, argv[0]) : NULL;
  if (t) tap_close(t, 0);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"write", NULL, js_write, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setFilter", NULL, js_set_filter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"paths", NULL, js_paths, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value v;
#ifdef HAVE_LIBURING
  napi_get_boolean(env, true, &v);
#else
  napi_get_boolean(env, false, &v);
#endif
  napi_set_named_property(env, exports, "hasLiburing", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
