// keepstate's native socket primitives: socket/bind/setsockopt/getsockopt/getsockname/sendmsg/recv/
// close, a classic BPF socket filter, if_nametoindex, setns, sched_setscheduler, and a uv_poll
// reader that drains a socket with recvmmsg and hands JS one packed Buffer per wakeup. No protocol
// knowledge lives here (house-style R13): framing, codecs and BPF programs are TypeScript, which
// also validates arguments; C checks types only. Everything runs on the thread
// that owns the napi_env (no C threads), and the module is context-aware (worker_threads).
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#define MAX_IOV 1024
#define MAX_SLOTS 1024
#define MAX_SLOT_SIZE (16 * 1024 * 1024)
#define MAX_CTRL_SIZE 65532 // ctrllen is a u16 in the batch header
#define HDR_SIZE 16         // per datagram: [u32 datalen][u32 msg_flags][u16 namelen][u16 ctrllen][u32 0]
#define PAD4(n) (((size_t)(n) + 3u) & ~(size_t)3u)
#define ARG_ERR "ERR_KEEPSTATE_NATIVE_ARG"

// CHECK: on a failed napi call, throw (unless an exception is already pending) and return to JS.
#define CHECK(call)                                        \
  do {                                                     \
    if ((call) != napi_ok) return fail_napi(env, #call);  \
  } while (0)

// ARGS fetches at least `min` of up to `n` arguments into argv.
#define ARGS(n, min)                                                \
  size_t argc = n;                                                  \
  napi_value argv[n];                                               \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));      \
  if (argc < (min)) return fail_napi(env, "missing arguments")

static napi_value fail_napi(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_type_error(env, ARG_ERR, what);
  return NULL;
}

// make_errno_error builds Error{code: 'ENOBUFS', errno: 105 (positive), syscall}, Node's SystemError shape.
static napi_value make_errno_error(napi_env env, int e, const char *syscall) {
  char msg[256], codebuf[64], textbuf[128];
  const char *c = NULL;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
  c = strerrorname_np(e);
#endif
  if (c == NULL) c = uv_err_name_r(-e, codebuf, sizeof codebuf); // "Unknown system error N" at worst
  snprintf(msg, sizeof msg, "%s failed: %s (%s)", syscall, strerror_r(e, textbuf, sizeof textbuf), c);
  napi_value code, text, err, no, sc;
  napi_create_string_utf8(env, c, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &err);
  napi_create_int32(env, e, &no);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, err, "errno", no);
  napi_set_named_property(env, err, "syscall", sc);
  return err;
}

static napi_value throw_errno(napi_env env, int e, const char *syscall) {
  napi_throw(env, make_errno_error(env, e, syscall));
  return NULL;
}

// ints reads argv[0..n-1] as int32 into the pointers that follow.
static napi_status ints(napi_env env, napi_value *argv, int n, ...) {
  va_list ap;
  napi_status st = napi_ok;
  va_start(ap, n);
  for (int i = 0; i < n && st == napi_ok; i++) st = napi_get_value_int32(env, argv[i], va_arg(ap, int32_t *));
  va_end(ap);
  return st;
}

// bytes reads a Uint8Array (Buffer included) argument; the pointer has the byte offset applied.
static napi_status bytes(napi_env env, napi_value v, void **data, size_t *len) {
  napi_typedarray_type t;
  if (napi_get_typedarray_info(env, v, &t, len, data, NULL, NULL) != napi_ok || t != napi_uint8_array) {
    napi_throw_type_error(env, ARG_ERR, "expected a Uint8Array");
    return napi_invalid_arg;
  }
  return napi_ok;
}

static bool nullish(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  return t == napi_null || t == napi_undefined;
}

static napi_value num(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

// socket(domain, type, protocol) -> fd; always non-blocking and close-on-exec.
static napi_value Socket(napi_env env, napi_callback_info info) {
  ARGS(3, 3);
  int32_t domain, type, proto;
  CHECK(ints(env, argv, 3, &domain, &type, &proto));
  int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  return fd < 0 ? throw_errno(env, errno, "socket") : num(env, fd);
}

static napi_value Close(napi_env env, napi_callback_info info) {
  ARGS(1, 1);
  int32_t fd;
  CHECK(ints(env, argv, 1, &fd));
  // Linux releases the fd even when close reports EINTR: never retry.
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, errno, "close");
  return NULL;
}

static napi_value Bind(napi_env env, napi_callback_info info) {
  ARGS(2, 2);
  int32_t fd;
  void *sa;
  size_t len;
  CHECK(ints(env, argv, 1, &fd));
  CHECK(bytes(env, argv[1], &sa, &len));
  if (bind(fd, (struct sockaddr *)sa, (socklen_t)len) < 0) return throw_errno(env, errno, "bind");
  return NULL;
}

static napi_value GetSockName(napi_env env, napi_callback_info info) {
  ARGS(1, 1);
  int32_t fd;
  CHECK(ints(env, argv, 1, &fd));
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return throw_errno(env, errno, "getsockname");
  napi_value out;
  CHECK(napi_create_buffer_copy(env, len < sizeof ss ? len : sizeof ss, &ss, NULL, &out));
  return out;
}

// setsockopt(fd, level, name, int|Uint8Array): a number is passed as a C int.
static napi_value SetSockOpt(napi_env env, napi_callback_info info) {
  ARGS(4, 4);
  int32_t fd, level, name, ival;
  CHECK(ints(env, argv, 3, &fd, &level, &name));
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[3], &t));
  void *val = &ival;
  size_t len = sizeof ival;
  if (t == napi_number) CHECK(napi_get_value_int32(env, argv[3], &ival));
  else CHECK(bytes(env, argv[3], &val, &len));
  if (setsockopt(fd, level, name, val, (socklen_t)len) < 0) return throw_errno(env, errno, "setsockopt");
  return NULL;
}

// getsockopt(fd, level, name[, len]): without len the option is read as a C int, else as bytes.
static napi_value GetSockOpt(napi_env env, napi_callback_info info) {
  ARGS(4, 3);
  int32_t fd, level, name, want;
  CHECK(ints(env, argv, 3, &fd, &level, &name));
  if (argc < 4 || nullish(env, argv[3])) {
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, name, &v, &len) < 0) return throw_errno(env, errno, "getsockopt");
    return num(env, v);
  }
  CHECK(napi_get_value_int32(env, argv[3], &want));
  if (want < 0 || want > MAX_CTRL_SIZE) return fail_napi(env, "getsockopt length out of range");
  uint8_t buf[MAX_CTRL_SIZE];
  socklen_t len = (socklen_t)want;
  if (getsockopt(fd, level, name, buf, &len) < 0) return throw_errno(env, errno, "getsockopt");
  napi_value out;
  CHECK(napi_create_buffer_copy(env, len < (socklen_t)want ? len : (size_t)want, buf, NULL, &out));
  return out;
}

// sendto(fd, Uint8Array|Uint8Array[], sockaddr|null, flags) -> bytes: one sendmsg gathering an iovec.
static napi_value SendTo(napi_env env, napi_callback_info info) {
  ARGS(4, 4);
  int32_t fd, flags;
  CHECK(ints(env, argv, 1, &fd));
  CHECK(napi_get_value_int32(env, argv[3], &flags));
  struct iovec iov[MAX_IOV];
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 1};
  bool is_array = false;
  CHECK(napi_is_array(env, argv[1], &is_array));
  if (is_array) {
    uint32_t n;
    CHECK(napi_get_array_length(env, argv[1], &n));
    if (n > MAX_IOV) return fail_napi(env, "too many buffers for one sendmsg");
    for (uint32_t i = 0; i < n; i++) {
      napi_value el;
      CHECK(napi_get_element(env, argv[1], i, &el));
      CHECK(bytes(env, el, &iov[i].iov_base, &iov[i].iov_len));
    }
    msg.msg_iovlen = n;
  } else {
    CHECK(bytes(env, argv[1], &iov[0].iov_base, &iov[0].iov_len));
  }
  if (!nullish(env, argv[2])) {
    size_t len;
    CHECK(bytes(env, argv[2], &msg.msg_name, &len));
    msg.msg_namelen = (socklen_t)len;
  }
  ssize_t n;
  do n = sendmsg(fd, &msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? throw_errno(env, errno, "sendmsg") : num(env, n);
}

// recv(fd, size) -> Buffer | null: one non-blocking read; null when nothing is queued.
static napi_value Recv(napi_env env, napi_callback_info info) {
  ARGS(2, 2);
  int32_t fd, size;
  CHECK(ints(env, argv, 2, &fd, &size));
  if (size < 1 || size > MAX_SLOT_SIZE) return fail_napi(env, "recv size out of range");
  uint8_t *buf = malloc((size_t)size);
  if (buf == NULL) return throw_errno(env, ENOMEM, "recv");
  ssize_t n;
  do n = recv(fd, buf, (size_t)size, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  int e = errno;
  napi_value out = NULL;
  if (n < 0 && (e == EAGAIN || e == EWOULDBLOCK)) napi_get_null(env, &out);
  else if (n < 0) throw_errno(env, e, "recv");
  else if (napi_create_buffer_copy(env, (size_t)n, buf, NULL, &out) != napi_ok) out = fail_napi(env, "recv buffer");
  free(buf);
  return out;
}

static napi_value IfNameToIndex(napi_env env, napi_callback_info info) {
  ARGS(1, 1);
  char name[IF_NAMESIZE + 1];
  size_t len;
  CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len));
  if (len >= IF_NAMESIZE) return throw_errno(env, ENODEV, "if_nametoindex"); // never match a cut name
  unsigned idx = if_nametoindex(name);
  return idx == 0 ? throw_errno(env, errno, "if_nametoindex") : num(env, idx);
}

// setns(fd, nstype): moves only the calling thread (the JS thread) into the namespace behind fd.
static napi_value SetNs(napi_env env, napi_callback_info info) {
  ARGS(2, 2);
  int32_t fd, type;
  CHECK(ints(env, argv, 2, &fd, &type));
  if (setns(fd, type) < 0) return throw_errno(env, errno, "setns");
  return NULL;
}

// ---- poller ---------------------------------------------------------------------------------------
// Lifetime: the poller is shared by the uv handle and the JS External. stop() closes the handle
// (on_closed frees the buffers); the memory itself goes when both the handle is closed and the
// External is finalized, so a stale handle in JS never points at freed memory.

typedef struct {
  uv_poll_t handle;
  uv_timer_t hold; // hold-off: after a wakeup that read something, the socket is not watched for hold_ms
  int hold_ms, open_handles;
  napi_env env;
  napi_ref cb;
  napi_async_context actx;
  napi_async_cleanup_hook_handle cleanup;
  int fd, slots, slot_size, ctrl_size, want_name;
  size_t max_bytes;
  struct mmsghdr *msgs;
  struct iovec *iovs;
  uint8_t *data, *names, *ctrls;
  uint8_t *scratch; // the packed batch of one wakeup, copied into one Buffer for JS
  size_t scratch_cap, scratch_len;
  uint32_t batch_count;
  int closing, closed, js_gone, js_released, in_callback, quiet_errors;
  double wakeups, recvmmsg_calls, datagrams, bytes, enobufs, holds;
} poller;

static const napi_type_tag POLLER_TAG = {0x6b65657073746174ULL, 0x706f6c6c65720001ULL};

static void free_buffers(poller *p) {
  free(p->msgs), free(p->iovs), free(p->data), free(p->names), free(p->ctrls), free(p->scratch);
  p->msgs = NULL, p->iovs = NULL, p->data = p->names = p->ctrls = p->scratch = NULL;
}

static void on_closed(uv_handle_t *h) {
  poller *p = (poller *)h->data;
  if (--p->open_handles > 0) return; // the poll handle and the hold-off timer
  free_buffers(p);
  if (p->cleanup != NULL) napi_remove_async_cleanup_hook(p->cleanup);
  p->closed = 1;
  if (p->js_gone) free(p);
}

// release_js drops the callback and async context, but never while the callback is running.
static void release_js(poller *p) {
  if (p->js_released || p->in_callback) return;
  p->js_released = 1;
  napi_delete_reference(p->env, p->cb);
  napi_async_destroy(p->env, p->actx);
}

// stop_handle: uv_close takes the fd out of epoll at once, so JS may close the fd right after.
static void stop_handle(poller *p) {
  p->closing = 1;
  uv_poll_stop(&p->handle);
  uv_close((uv_handle_t *)&p->handle, on_closed);
  uv_timer_stop(&p->hold);
  uv_close((uv_handle_t *)&p->hold, on_closed);
}

static void stop(poller *p) {
  if (p->closing) return;
  stop_handle(p);
  release_js(p);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle h, void *arg) {
  stop((poller *)arg); // on_closed removes the hook, which lets the environment finish its teardown
}

static void finalize_poller(napi_env env, void *data, void *hint) {
  poller *p = (poller *)data;
  stop(p); // a no-op unless JS dropped the handle of a running poller
  p->js_gone = 1;
  if (p->closed) free(p);
}

// deliver calls cb(errno, batch|null, count); count -1 means the poller has stopped itself.
static void deliver(poller *p, int err, napi_value batch, int32_t count) {
  napi_env env = p->env;
  napi_value cb, global, argv[3];
  if (napi_get_reference_value(env, p->cb, &cb) != napi_ok || cb == NULL) return;
  napi_get_global(env, &global);
  napi_create_int32(env, err, &argv[0]);
  if (batch != NULL) argv[1] = batch;
  else napi_get_null(env, &argv[1]);
  napi_create_int32(env, count, &argv[2]);
  p->in_callback = 1;
  napi_status st = napi_make_callback(env, p->actx, global, cb, 3, argv, NULL); // runs ticks/microtasks
  p->in_callback = 0;
  if (st == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc); // the same path as a throw in any other I/O callback
  }
  if (p->closing) release_js(p); // stopped by fatal() or by pollStop inside the callback
}

static void flush(poller *p) {
  if (p->batch_count == 0 || p->closing) return;
  int32_t count = (int32_t)p->batch_count;
  napi_value buf;
  napi_status st = napi_create_buffer_copy(p->env, p->scratch_len, p->scratch, NULL, &buf);
  p->batch_count = 0, p->scratch_len = 0;
  if (st != napi_ok) deliver(p, ENOMEM, NULL, 0);
  else deliver(p, 0, buf, count);
}

// fatal stops the handle before telling JS, which may close the fd and reuse its number at once.
static void fatal(poller *p, int err) {
  flush(p);
  if (p->closing) return;
  stop_handle(p);
  deliver(p, err, NULL, -1); // and releases the callback afterwards
}

static int pack(poller *p, int n) {
  for (int i = 0; i < n; i++) {
    struct msghdr *m = &p->msgs[i].msg_hdr;
    uint32_t dlen = p->msgs[i].msg_len < (unsigned)p->slot_size ? p->msgs[i].msg_len : (uint32_t)p->slot_size;
    uint16_t nlen = !p->want_name ? 0
                    : m->msg_namelen < sizeof(struct sockaddr_storage) ? (uint16_t)m->msg_namelen
                                                                       : sizeof(struct sockaddr_storage);
    uint16_t clen = (uint16_t)(m->msg_controllen < (size_t)p->ctrl_size ? m->msg_controllen : (size_t)p->ctrl_size);
    size_t need = HDR_SIZE + PAD4(nlen) + PAD4(clen) + PAD4(dlen);
    if (p->scratch_len + need > p->scratch_cap) {
      size_t cap = p->scratch_cap ? p->scratch_cap : 65536;
      while (cap < p->scratch_len + need) cap *= 2;
      uint8_t *grown = realloc(p->scratch, cap);
      if (grown == NULL) return ENOMEM;
      p->scratch = grown, p->scratch_cap = cap;
    }
    uint8_t *o = p->scratch + p->scratch_len;
    uint32_t flags = (uint32_t)m->msg_flags;
    memset(o, 0, need); // padding is zero, never stale memory
    memcpy(o, &dlen, 4), memcpy(o + 4, &flags, 4), memcpy(o + 8, &nlen, 2), memcpy(o + 10, &clen, 2);
    o += HDR_SIZE;
    if (nlen) memcpy(o, m->msg_name, nlen);
    o += PAD4(nlen);
    if (clen) memcpy(o, m->msg_control, clen);
    memcpy(o + PAD4(clen), m->msg_iov->iov_base, dlen);
    p->scratch_len += need;
    p->batch_count++, p->datagrams++, p->bytes += dlen;
  }
  return 0;
}

// Errors a retry cannot clear: report them and stop rather than spin.
static int is_fatal(int e) {
  return e == EBADF || e == ENOTSOCK || e == EINVAL || e == EFAULT || e == EOPNOTSUPP || e == ENOTCONN;
}

// drain reads until the socket is empty or the byte budget is spent; 1 when it left the socket empty.
static int drain(poller *p) {
  size_t total = 0;
  int emptied = 0;
  while (!p->closing && total < p->max_bytes) {
    for (int i = 0; i < p->slots; i++) {
      struct msghdr *m = &p->msgs[i].msg_hdr;
      m->msg_namelen = p->want_name ? sizeof(struct sockaddr_storage) : 0;
      m->msg_controllen = (size_t)p->ctrl_size;
      m->msg_flags = 0;
    }
    int n = recvmmsg(p->fd, p->msgs, (unsigned)p->slots, MSG_DONTWAIT, NULL);
    p->recvmmsg_calls++;
    if (n < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) {
        emptied = 1;
        break;
      }
      if (is_fatal(e)) {
        fatal(p, e);
        return 0;
      }
      flush(p); // the datagrams read before the error go first
      if (p->closing) return 0;
      if (e == ENOBUFS) p->enobufs++;
      deliver(p, e, NULL, 0); // e.g. ENOBUFS: the queue overflowed, some datagrams are lost; keep reading
      continue;
    }
    p->quiet_errors = 0;
    int e = pack(p, n);
    if (e != 0) {
      fatal(p, e);
      return 0;
    }
    for (int i = 0; i < n; i++) total += p->msgs[i].msg_len;
    if (n < p->slots) { // drained; level-triggered epoll wakes us again for anything new
      emptied = 1;
      break;
    }
  }
  flush(p); // when the byte budget ran out, the rest waits for the next loop iteration
  return emptied;
}

static void on_hold(uv_timer_t *t);

static void on_poll(uv_poll_t *h, int status, int events) {
  poller *p = (poller *)h->data;
  napi_handle_scope scope;
  if (napi_open_handle_scope(p->env, &scope) != napi_ok) return;
  p->wakeups++;
  if (status < 0) {
    // EPOLLERR (a netlink queue overrun sets sk_err = ENOBUFS): libuv reports it as an error status
    // and has already stopped the handle. Read and clear the socket error, then re-arm.
    int err = 0, r;
    socklen_t len = sizeof err;
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
      fatal(p, errno);
    } else if ((r = uv_poll_start(&p->handle, UV_READABLE, on_poll)) < 0) {
      fatal(p, -r);
    } else if (err != 0) {
      if (err == ENOBUFS) p->enobufs++;
      p->quiet_errors = 0;
      deliver(p, err, NULL, 0);
    } else if (++p->quiet_errors > 16) {
      fatal(p, EIO); // an EPOLLERR that SO_ERROR does not explain (e.g. an error queue): stop, not spin
    }
  }
  if (!p->closing) {
    double before = p->datagrams;
    int emptied = drain(p);
    // Hold-off (interrupt moderation): during a flood, one wakeup per hold_ms reads what came
    // meanwhile in one batch, instead of a wakeup, a JS callback and an epoll round per few
    // datagrams. The first datagram after a quiet spell is read at once, and a reader that is
    // behind (the byte budget ran out before the socket was empty) does not rest.
    if (p->hold_ms > 0 && !p->closing && emptied && p->datagrams > before) {
      uv_poll_stop(&p->handle);
      uv_timer_start(&p->hold, on_hold, (uint64_t)p->hold_ms, 0);
      p->holds++;
    }
  }
  napi_close_handle_scope(p->env, scope);
}

static void on_hold(uv_timer_t *t) {
  poller *p = (poller *)t->data;
  if (p->closing) return;
  int r = uv_poll_start(&p->handle, UV_READABLE, on_poll);
  if (r < 0) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(p->env, &scope) != napi_ok) return;
    fatal(p, -r);
    napi_close_handle_scope(p->env, scope);
  }
}

// pollStart(fd, slots, slotSize, ctrlSize, wantName, maxBytesPerCallback, cb[, holdMs]) -> handle
static napi_value PollStart(napi_env env, napi_callback_info info) {
  ARGS(8, 7);
  int32_t fd, slots, slot_size, ctrl_size, hold_ms = 0;
  if (argc >= 8) CHECK(napi_get_value_int32(env, argv[7], &hold_ms));
  int64_t max_bytes;
  bool want_name;
  napi_valuetype t;
  CHECK(ints(env, argv, 4, &fd, &slots, &slot_size, &ctrl_size));
  CHECK(napi_get_value_bool(env, argv[4], &want_name));
  CHECK(napi_get_value_int64(env, argv[5], &max_bytes));
  CHECK(napi_typeof(env, argv[6], &t));
  if (t != napi_function || slots < 1 || slots > MAX_SLOTS || slot_size < 1 || slot_size > MAX_SLOT_SIZE ||
      ctrl_size < 0 || ctrl_size > MAX_CTRL_SIZE || max_bytes < 1 || hold_ms < 0 || hold_ms > 1000)
    return fail_napi(env, "pollStart: bad arguments");
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  poller *p = calloc(1, sizeof *p);
  if (p == NULL) return throw_errno(env, ENOMEM, "pollStart");
  *p = (poller){.env = env, .fd = fd, .slots = slots, .slot_size = slot_size, .ctrl_size = ctrl_size,
                .want_name = want_name, .max_bytes = (size_t)max_bytes, .hold_ms = hold_ms};
  size_t n = (size_t)slots, ss = sizeof(struct sockaddr_storage);
  p->msgs = calloc(n, sizeof *p->msgs);
  p->iovs = calloc(n, sizeof *p->iovs);
  p->data = malloc(n * (size_t)slot_size);
  p->names = want_name ? malloc(n * ss) : NULL;
  p->ctrls = ctrl_size ? malloc(n * (size_t)ctrl_size) : NULL;
  napi_value name, ext;
  int r = UV_ENOMEM;
  if (!p->msgs || !p->iovs || !p->data || (want_name && !p->names) || (ctrl_size && !p->ctrls)) goto fail;
  for (size_t i = 0; i < n; i++) {
    p->iovs[i] = (struct iovec){p->data + i * (size_t)slot_size, (size_t)slot_size};
    p->msgs[i].msg_hdr = (struct msghdr){.msg_iov = &p->iovs[i], .msg_iovlen = 1,
                                         .msg_name = want_name ? p->names + i * ss : NULL,
                                         .msg_control = ctrl_size ? p->ctrls + i * (size_t)ctrl_size : NULL};
  }
  r = 0;
  if (napi_create_string_utf8(env, "keepstate:poll", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &p->actx) != napi_ok)
    goto fail;
  if (napi_create_reference(env, argv[6], 1, &p->cb) != napi_ok) goto fail_actx;
  if ((r = uv_poll_init(loop, &p->handle, fd)) < 0) goto fail_ref;
  // The handles exist: from here on they are closed through stop(), never freed directly.
  uv_timer_init(loop, &p->hold); // cannot fail
  p->handle.data = p, p->hold.data = p, p->open_handles = 2;
  if (napi_add_async_cleanup_hook(env, on_env_cleanup, p, &p->cleanup) != napi_ok) p->cleanup = NULL;
  if (napi_create_external(env, p, finalize_poller, NULL, &ext) != napi_ok) {
    p->js_gone = 1; // no External will ever be finalized: on_closed frees p
    stop(p);
    return fail_napi(env, "pollStart: napi_create_external");
  }
  if (napi_type_tag_object(env, ext, &POLLER_TAG) != napi_ok) r = UV_ENOMEM;
  else r = uv_poll_start(&p->handle, UV_READABLE, on_poll);
  if (r < 0) {
    stop(p); // the External's finalizer frees p later
    return throw_errno(env, -r, "uv_poll_start");
  }
  return ext;
fail_ref:
  napi_delete_reference(env, p->cb);
fail_actx:
  napi_async_destroy(env, p->actx);
fail:
  free_buffers(p);
  free(p);
  return r < 0 ? throw_errno(env, -r, "uv_poll_init") : fail_napi(env, "pollStart");
}

static napi_value get_poller(napi_env env, napi_value v, poller **p) {
  bool ok = false;
  if (napi_check_object_type_tag(env, v, &POLLER_TAG, &ok) != napi_ok || !ok ||
      napi_get_value_external(env, v, (void **)p) != napi_ok)
    return fail_napi(env, "expected a poll handle");
  return v;
}

static napi_value PollStop(napi_env env, napi_callback_info info) {
  ARGS(1, 1);
  poller *p;
  if (get_poller(env, argv[0], &p) == NULL) return NULL;
  stop(p);
  return NULL;
}

static napi_value PollRef(napi_env env, napi_callback_info info) {
  ARGS(2, 2);
  poller *p;
  bool on;
  if (get_poller(env, argv[0], &p) == NULL) return NULL;
  CHECK(napi_get_value_bool(env, argv[1], &on));
  if (p->closing) return NULL;
  if (on) uv_ref((uv_handle_t *)&p->handle), uv_ref((uv_handle_t *)&p->hold);
  else uv_unref((uv_handle_t *)&p->handle), uv_unref((uv_handle_t *)&p->hold);
  return NULL;
}

static napi_value PollStats(napi_env env, napi_callback_info info) {
  ARGS(1, 1);
  poller *p;
  if (get_poller(env, argv[0], &p) == NULL) return NULL;
  const char *names[] = {"wakeups", "recvmmsgCalls", "datagrams", "bytes", "enobufs", "holds"};
  double vals[] = {p->wakeups, p->recvmmsg_calls, p->datagrams, p->bytes, p->enobufs, p->holds};
  napi_value out, v;
  CHECK(napi_create_object(env, &out));
  for (int i = 0; i < 6; i++) {
    CHECK(napi_create_double(env, vals[i], &v));
    CHECK(napi_set_named_property(env, out, names[i], v));
  }
  return out;
}

// ---- scheduling -----------------------------------------------------------------------------------

// schedSetScheduler(tid, policy, priority): sched_setscheduler(2) on one thread (0: the calling one);
// Linux applies a policy per thread, and threads created later inherit it from their creator.
static napi_value SchedSetScheduler(napi_env env, napi_callback_info info) {
  ARGS(3, 3);
  int32_t tid, policy, prio;
  CHECK(ints(env, argv, 3, &tid, &policy, &prio));
  struct sched_param param = {.sched_priority = prio};
  if (sched_setscheduler((pid_t)tid, policy, &param) < 0) return throw_errno(env, errno, "sched_setscheduler");
  return NULL;
}

// The VER0 layout of include/uapi/linux/sched/types.h's struct sched_attr (48 bytes), under a name
// of our own: glibc releases differ on whether <sched.h> declares it.
struct ks_sched_attr {
  uint32_t size, sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period; // ns
};

// schedSetDeadline(tid, runtimeUs, deadlineUs, periodUs, flags): sched_setattr(2) with
// SCHED_DEADLINE on one thread (0: the calling one); flags are SCHED_FLAG_* (RESET_ON_FORK, RECLAIM).
static napi_value SchedSetDeadline(napi_env env, napi_callback_info info) {
  ARGS(5, 5);
  int32_t tid, runtime, deadline, period, flags;
  CHECK(ints(env, argv, 5, &tid, &runtime, &deadline, &period, &flags));
  if (runtime <= 0 || deadline < runtime || period < deadline || flags < 0) return fail_napi(env, "schedSetDeadline: needs 0 < runtime <= deadline <= period");
  struct ks_sched_attr attr = {
      .size = sizeof attr,
      .sched_policy = 6, // SCHED_DEADLINE
      .sched_flags = (uint64_t)flags,
      .sched_runtime = (uint64_t)runtime * 1000,
      .sched_deadline = (uint64_t)deadline * 1000,
      .sched_period = (uint64_t)period * 1000,
  };
  if (syscall(SYS_sched_setattr, (pid_t)tid, &attr, 0u) < 0) return throw_errno(env, errno, "sched_setattr");
  return NULL;
}

// attachFilter(fd, Uint8Array): SO_ATTACH_FILTER with a classic BPF program, an array of struct
// sock_filter (8 bytes each, host order) built in TypeScript (src/netlink/sock-filter.ts); the
// kernel copies it.
static napi_value AttachFilter(napi_env env, napi_callback_info info) {
  ARGS(2, 2);
  int32_t fd;
  CHECK(ints(env, argv, 1, &fd));
  void *prog;
  size_t len;
  CHECK(bytes(env, argv[1], &prog, &len));
  if (len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > BPF_MAXINSNS)
    return fail_napi(env, "attachFilter: the program is not a whole number of instructions");
  struct sock_fprog fprog = {.len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = prog};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) < 0) return throw_errno(env, errno, "setsockopt(SO_ATTACH_FILTER)");
  return NULL;
}

NAPI_MODULE_INIT() {
  static const struct { const char *name; napi_callback fn; } fns[] = {
      {"socket", Socket},     {"close", Close},         {"bind", Bind},
      {"getsockname", GetSockName}, {"setsockopt", SetSockOpt}, {"getsockopt", GetSockOpt},
      {"sendto", SendTo},     {"recv", Recv},           {"ifNameToIndex", IfNameToIndex},
      {"setns", SetNs},       {"pollStart", PollStart}, {"pollStop", PollStop},
      {"pollRef", PollRef},   {"pollStats", PollStats},
      {"schedSetScheduler", SchedSetScheduler}, {"schedSetDeadline", SchedSetDeadline},
      {"attachFilter", AttachFilter},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok ||
        napi_set_named_property(env, exports, fns[i].name, f) != napi_ok)
      return NULL;
  }
  return exports;
}
