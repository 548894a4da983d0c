// SPDX-License-Identifier: Apache-2.0
/*
 * Peregrine sensor v2: the loader. Loads and attaches the CO-RE program (embedded skeleton),
 * takes its configuration from the Node process on stdin, and moves the kernel's records to
 * stdout in large binary chunks, unchanged (framing: sensor/record.h).
 *
 *   peregrine-sensor-loader [--ring-bytes N] [--ignore-pid PID]...
 *   peregrine-sensor-loader --check     load the program and exit: 0 when this host and these
 *                                       privileges can run the sensor, else 1 with why
 *
 * stdin, one command per line (from the Node process that spawned it, never from traced ones):
 *   spec NR STR1 STR2 STR3 SOCKFD ADDR EXEC ENABLED   what syscall NR carries (struct pg_spec)
 *   enable NR,NR,...                             exactly these syscalls emit events now
 *   ignore PID                                   skip this process too
 *   start                                        attach; a PG_READY record follows
 * EOF on stdin (the Node process is gone) ends the loader, as does SIGKILL of its parent
 * (parent-death signal). Errors go to stderr, one line each, and exit 1.
 * Every second, when any CPU lost records since the last report, a PG_LOST record carries the
 * per-CPU totals.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "record.h"
#include "peregrine.skel.h"

#define OUT_CAP (1 << 20)

static unsigned char out[OUT_CAP];
static size_t out_len;
static int ncpus;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("peregrine-sensor-loader: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void flush_out(void) {
  size_t done = 0;
  while (done < out_len) {
    ssize_t n = write(1, out + done, out_len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      exit(errno == EPIPE ? 0 : 1); /* the reader is gone */
    }
    done += (size_t)n;
  }
  out_len = 0;
}

static void put(const void *data, size_t size) {
  if (out_len + size > OUT_CAP) flush_out();
  memcpy(out + out_len, data, size);
  out_len += size;
}

static int on_record(void *ctx, void *data, size_t size) {
  (void)ctx;
  /* the kernel's own size field is authoritative; a record it did not finish is not passed on */
  const struct pg_hdr *h = data;
  if (size < sizeof(*h) || h->size > size) return 0;
  put(data, h->size);
  return 0;
}

static __u64 now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static void loader_record(__u16 type, const void *payload, size_t len) {
  struct pg_hdr h = {.size = (__u32)(sizeof(h) + len), .type = type, .ts = now_ns(), .pid = (__u32)getpid()};
  put(&h, sizeof(h));
  if (len) put(payload, len);
}

static void report_lost(int map_fd, __u64 *last) {
  __u32 zero = 0;
  __u64 vals[ncpus];
  if (bpf_map_lookup_elem(map_fd, &zero, vals)) return;
  int changed = 0;
  for (int i = 0; i < ncpus; i++) changed |= vals[i] != last[i];
  if (!changed) return;
  memcpy(last, vals, sizeof(vals));
  loader_record(PG_LOST, vals, sizeof(vals));
  flush_out();
}

/* one command line; returns 1 on "start" */
static int command(struct peregrine_bpf *skel, char *line, int started) {
  int specs = bpf_map__fd(skel->maps.specs);
  unsigned nr, s1, s2, s3, sock, addr, exec, enabled;
  if (sscanf(line, "spec %u %u %u %u %u %u %u %u", &nr, &s1, &s2, &s3, &sock, &addr, &exec, &enabled) == 8) {
    if (nr >= PG_MAX_SYSCALLS) die("spec: syscall %u out of range", nr);
    struct pg_spec sp = {.enabled = (__u8)enabled,
                         .str1 = (__u8)s1,
                         .str2 = (__u8)s2,
                         .str3 = (__u8)s3,
                         .sockfd = (__u8)sock,
                         .addr = (__u8)addr,
                         .exec = (__u8)exec};
    if (bpf_map_update_elem(specs, &nr, &sp, BPF_ANY)) die("spec %u: %s", nr, strerror(errno));
    return 0;
  }
  if (strncmp(line, "enable ", 7) == 0 || strcmp(line, "enable") == 0) {
    unsigned char want[PG_MAX_SYSCALLS] = {0};
    char *p = line + 6;
    while (*p) {
      while (*p == ' ' || *p == ',') p++;
      if (!*p) break;
      char *end;
      unsigned long v = strtoul(p, &end, 10);
      if (end == p || v >= PG_MAX_SYSCALLS) die("enable: bad syscall number near '%.20s'", p);
      want[v] = 1;
      p = end;
    }
    for (__u32 i = 0; i < PG_MAX_SYSCALLS; i++) {
      struct pg_spec sp;
      if (bpf_map_lookup_elem(specs, &i, &sp)) continue;
      if (sp.enabled == want[i]) continue;
      sp.enabled = want[i];
      bpf_map_update_elem(specs, &i, &sp, BPF_ANY);
    }
    return 0;
  }
  unsigned pid;
  if (sscanf(line, "ignore %u", &pid) == 1) {
    __u8 one = 1;
    if (bpf_map_update_elem(bpf_map__fd(skel->maps.ignored), &pid, &one, BPF_ANY))
      die("ignore %u: %s", pid, strerror(errno));
    return 0;
  }
  if (strcmp(line, "start") == 0 && !started) {
    if (peregrine_bpf__attach(skel)) die("attaching the probes failed: %s", strerror(errno));
    loader_record(PG_READY, NULL, 0);
    flush_out();
    return 1;
  }
  if (line[0]) die("unknown command '%.40s'", line);
  return 0;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);
  unsigned long ring = 8ul << 20;
  __u32 ignore[64];
  int nignore = 0;
  int check = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--check") == 0) {
      check = 1;
    } else if (strcmp(argv[i], "--ring-bytes") == 0 && i + 1 < argc) {
      ring = strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--ignore-pid") == 0 && i + 1 < argc && nignore < 64) {
      ignore[nignore++] = (__u32)strtoul(argv[++i], NULL, 10);
    } else {
      die("usage: peregrine-sensor-loader [--ring-bytes N] [--ignore-pid PID]...");
    }
  }
  if (ring < 4096 || (ring & (ring - 1))) die("--ring-bytes must be a power of two of at least 4096, not %lu", ring);
  libbpf_set_print(libbpf_log);
  ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) die("cannot count CPUs");
  struct peregrine_bpf *skel = peregrine_bpf__open();
  if (!skel) die("opening the eBPF program failed: %s", strerror(errno));
  bpf_map__set_max_entries(skel->maps.rb, (__u32)ring);
  if (peregrine_bpf__load(skel))
    die("loading the eBPF program failed (needs root or CAP_BPF+CAP_PERFMON, and BTF at /sys/kernel/btf/vmlinux): %s",
        strerror(errno));
  if (check) {
    peregrine_bpf__destroy(skel);
    return 0;
  }
  __u8 one = 1;
  __u32 self = (__u32)getpid();
  bpf_map_update_elem(bpf_map__fd(skel->maps.ignored), &self, &one, BPF_ANY);
  for (int i = 0; i < nignore; i++) bpf_map_update_elem(bpf_map__fd(skel->maps.ignored), &ignore[i], &one, BPF_ANY);
  struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.rb), on_record, NULL, NULL);
  if (!rb) die("ring buffer: %s", strerror(errno));
  fcntl(1, F_SETPIPE_SZ, 1 << 20); /* best effort: fewer, larger writes */
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = 0};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  ev.data.fd = ring_buffer__epoll_fd(rb);
  epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
  char cmd[8192];
  size_t cmd_len = 0;
  int started = 0;
  __u64 last_lost[ncpus];
  memset(last_lost, 0, sizeof(last_lost));
  __u64 next_report = now_ns() + 1000000000ull;
  for (;;) {
    struct epoll_event evs[2];
    /* records wake us only when the ring is half full; otherwise every 5 ms */
    int n = epoll_wait(ep, evs, 2, 5);
    if (n < 0 && errno != EINTR) die("epoll: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
      if (evs[i].data.fd != 0) continue;
      ssize_t r = read(0, cmd + cmd_len, sizeof(cmd) - 1 - cmd_len);
      if (r <= 0) {
        flush_out();
        return 0; /* EOF: the Node process is gone or stopping us */
      }
      cmd_len += (size_t)r;
      char *nl;
      while ((nl = memchr(cmd, '\n', cmd_len))) {
        *nl = 0;
        started |= command(skel, cmd, started);
        size_t used = (size_t)(nl - cmd) + 1;
        memmove(cmd, nl + 1, cmd_len - used);
        cmd_len -= used;
      }
      if (cmd_len == sizeof(cmd) - 1) die("command line too long");
    }
    if (started) {
      ring_buffer__consume(rb);
      if (out_len) flush_out();
      __u64 now = now_ns();
      if (now >= next_report) {
        report_lost(bpf_map__fd(skel->maps.lost), last_lost);
        next_report = now + 1000000000ull;
      }
    }
  }
}
