// SPDX-License-Identifier: GPL-2.0
/*
 * Peregrine sensor v2: the kernel half. CO-RE (BTF relocations, vmlinux.h generated at build
 * time), attached to the raw syscall tracepoints (tp_btf sys_enter/sys_exit) and to process exit.
 *
 * Contract (sensor/record.h, docs/sensor.md):
 * - only syscalls whose `specs` entry is enabled cost more than one array lookup; the agent
 *   chooses them (the event types its rules can match), the loader writes them;
 * - processes in `ignored` (the sensor, its loader, the agent) are skipped;
 * - every field is read here at the event, not later from /proc;
 * - records go to one BPF ring buffer (global order); when it is full the record is dropped and
 *   counted per CPU in `lost`: the traced process never waits;
 * - every length in a record is the kernel's: user memory is only ever copied into blobs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "record.h"

char LICENSE[] SEC("license") = "GPL";

#define SCRATCH 32768
#define HALF 16384
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define OVERLAYFS_SUPER_MAGIC 0x794c7630

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 << 20); /* the loader sets the size */
} rb SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, PG_MAX_SYSCALLS);
  __type(key, __u32);
  __type(value, struct pg_spec);
} specs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u8);
} ignored SEC(".maps");

struct inflight {
  __u64 args[6];
  __u32 nr;
  __u32 active; /* 1 between entry and exit */
  struct pg_named named;
};

/* the syscall a thread is in, between entry and exit: task-local storage (freed with the task) */
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct inflight);
} inflight SEC(".maps");

struct scratch {
  __u8 b[SCRATCH];
};

/* where a record is built (records are bigger than the 512-byte stack); one for exits, one for entries */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, struct scratch);
} scratch SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} lost SEC(".maps");

/* inode time fields before 6.6 and 6.6-6.10 (CO-RE flavors; 6.11+ is vmlinux.h's struct inode) */
struct inode___v66 {
  struct timespec64 __i_ctime;
  struct timespec64 i_mtime;
} __attribute__((preserve_access_index));
struct inode___old {
  struct timespec64 i_ctime;
  struct timespec64 i_mtime;
} __attribute__((preserve_access_index));
struct inode___v611 {
  time64_t i_mtime_sec;
  time64_t i_ctime_sec;
  __u32 i_mtime_nsec;
  __u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

/* a record's header (its size is set once the record is complete) */
static __always_inline void fill_hdr(struct pg_hdr *h, __u16 type, __u32 nr, __u32 tid, __u32 pid, __s64 res) {
  h->type = type;
  h->nr = nr;
  h->ts = bpf_ktime_get_ns();
  h->tid = tid;
  h->pid = pid;
  h->res = res;
}

static __always_inline void count_lost(void) {
  __u32 zero = 0;
  __u64 *n = bpf_map_lookup_elem(&lost, &zero);
  if (n) *n += 1;
}

static __always_inline void emit(void *data, __u32 size) {
  /* no wake-up per record (the loader polls every few ms) unless the ring is half full */
  __u64 flags = bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) > bpf_ringbuf_query(&rb, BPF_RB_RING_SIZE) / 2
                    ? BPF_RB_FORCE_WAKEUP
                    : BPF_RB_NO_WAKEUP;
  if (bpf_ringbuf_output(&rb, data, size & (SCRATCH - 1), flags)) count_lost();
}

/* argument `i` (0-5) of a call in flight; 0 for any other index */
static __always_inline __u64 arg_at(const struct inflight *f, __u8 i) {
  switch (i) {
  case 0: return f->args[0];
  case 1: return f->args[1];
  case 2: return f->args[2];
  case 3: return f->args[3];
  case 4: return f->args[4];
  case 5: return f->args[5];
  default: return 0;
  }
}

static __always_inline bool is_ignored(__u32 tgid) {
  return bpf_map_lookup_elem(&ignored, &tgid) != 0;
}

/* upid.nr of `pid` at namespace `level` (0 when the pid is not seen there) */
static __always_inline __u32 pid_nr_at(struct pid *pid, __u32 level) {
  if (!pid) return 0;
  __u32 plevel = pid->level;
  if (level > plevel) return 0;
  if (level == 0) return pid->numbers[0].nr;
  int nr = 0;
  void *base = (void *)pid + bpf_core_field_offset(struct pid, numbers);
  bpf_probe_read_kernel(&nr, sizeof(nr),
                        base + (level & 31) * bpf_core_type_size(struct upid) + bpf_core_field_offset(struct upid, nr));
  return nr;
}

/*
 * Reads below go straight through BTF-typed pointers (tp_btf programs: faulting loads read 0)
 * where the verifier allows it, and through bpf_probe_read_kernel where it does not (variable
 * indexes, layouts that changed across kernels): a helper call costs far more than a load.
 */
static __always_inline void exe_info(struct pg_proc *p, struct task_struct *t, const struct cred *cred) {
  struct mm_struct *mm = t->mm;
  struct file *exe = mm ? mm->exe_file : 0;
  struct inode *ino = exe ? exe->f_inode : 0;
  if (!ino) return;
  p->exe_ino = ino->i_ino;
  if (bpf_core_field_exists(struct inode___v611, i_ctime_sec)) {
    struct inode___v611 *i = (void *)ino;
    /* the top bits of the nsec fields are flags (I_CTIME_QUERIED) since 6.13 */
    p->exe_ctime = i->i_ctime_sec * 1000000000ULL + (i->i_ctime_nsec & 0x3fffffff);
    p->exe_mtime = i->i_mtime_sec * 1000000000ULL + (i->i_mtime_nsec & 0x3fffffff);
  } else if (bpf_core_field_exists(struct inode___v66, __i_ctime)) {
    struct inode___v66 *i = (void *)ino;
    p->exe_ctime = BPF_CORE_READ(i, __i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(i, __i_ctime.tv_nsec);
    p->exe_mtime = BPF_CORE_READ(i, i_mtime.tv_sec) * 1000000000ULL + BPF_CORE_READ(i, i_mtime.tv_nsec);
  } else {
    struct inode___old *i = (void *)ino;
    p->exe_ctime = BPF_CORE_READ(i, i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(i, i_ctime.tv_nsec);
    p->exe_mtime = BPF_CORE_READ(i, i_mtime.tv_sec) * 1000000000ULL + BPF_CORE_READ(i, i_mtime.tv_nsec);
  }
  __u32 flags = 0;
  /* overlayfs: the upper dentry pointer follows the VFS inode embedded in struct ovl_inode */
  struct super_block *sb = ino->i_sb;
  if (sb && sb->s_magic == OVERLAYFS_SUPER_MAGIC) {
    struct dentry *upper = 0;
    bpf_probe_read_kernel(&upper, sizeof(upper), (void *)ino + bpf_core_type_size(struct inode));
    if (upper && BPF_CORE_READ(upper, d_inode)) flags |= PG_EXE_UPPER;
  }
  /* a memfd's file has no link and is named "memfd:NAME" */
  if (ino->i_nlink == 0) {
    char name[8] = {};
    bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(exe, f_path.dentry, d_name.name));
    if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' && name[5] == ':')
      flags |= PG_EXE_MEMFD;
  }
  __u32 mode = ino->i_mode;
  __u32 fsuid = cred->fsuid.val;
  __u32 fsgid = cred->fsgid.val;
  if (fsuid == 0 || (mode & 0002) || ((mode & 0200) && ino->i_uid.val == fsuid) ||
      ((mode & 0020) && ino->i_gid.val == fsgid))
    flags |= PG_EXE_WRITABLE;
  p->exe_flags = flags;
}

/* the caller and its ancestors, as the kernel has them now */
static __always_inline void fill_proc(struct pg_proc *p, struct task_struct *t, __u32 tid, __u32 tgid) {
  struct task_struct *leader = t->group_leader;
  struct pid *tpid = t->thread_pid;
  __u32 level = tpid ? tpid->level : 0;
  struct signal_struct *sig = t->signal;
  p->ppid = t->real_parent->tgid;
  if (level == 0) {
    p->vtid = tid;
    p->vpid = tgid;
  } else {
    p->vtid = pid_nr_at(tpid, level);
    p->vpid = pid_nr_at(leader->thread_pid, level);
  }
  p->vpgid = pid_nr_at(sig->pids[PIDTYPE_PGID], level);
  p->sid = pid_nr_at(sig->pids[PIDTYPE_SID], 0);
  struct tty_struct *tty = sig->tty;
  p->tty = 0;
  if (tty) {
    struct tty_driver *drv = tty->driver;
    __u32 major = drv ? drv->major : 0;
    __u32 minor = (drv ? drv->minor_start : 0) + tty->index;
    if (major) p->tty = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
  }
  const struct cred *cred = t->cred;
  p->uid = cred->euid.val;
  p->gid = cred->egid.val;
  p->ruid = cred->uid.val;
  p->rgid = cred->gid.val;
  p->loginuid = bpf_core_field_exists(t->loginuid) ? t->loginuid.val : 0xffffffff;
  /* kernel_cap_t is one u64 since 6.3 (read directly), two u32 before (low word first) */
  if (bpf_core_field_exists(((kernel_cap_t *)0)->val)) {
    p->cap_effective = cred->cap_effective.val;
    p->cap_permitted = cred->cap_permitted.val;
    p->cap_inheritable = cred->cap_inheritable.val;
  } else {
    bpf_core_read(&p->cap_effective, 8, &cred->cap_effective);
    bpf_core_read(&p->cap_permitted, 8, &cred->cap_permitted);
    bpf_core_read(&p->cap_inheritable, 8, &cred->cap_inheritable);
  }
  p->exe_ino = 0;
  p->exe_ctime = 0;
  p->exe_mtime = 0;
  p->exe_flags = 0;
  exe_info(p, t, cred);
  p->start_ns = leader->start_time;
  bpf_get_current_comm(p->comm, sizeof(p->comm));
  struct task_struct *cur = t;
#pragma unroll
  for (int i = 0; i < PG_ANCESTORS; i++) {
    struct task_struct *parent = cur ? cur->real_parent : 0;
    __u32 ptgid = parent ? parent->tgid : 0;
    p->anc_pid[i] = ptgid;
    __u64 *dst = (__u64 *)p->anc_comm[i];
    if (ptgid && parent != cur) {
      dst[0] = *(__u64 *)&parent->comm[0];
      dst[1] = *(__u64 *)&parent->comm[8];
    } else {
      dst[0] = 0;
      dst[1] = 0;
    }
    cur = ptgid && parent != cur ? parent : 0;
  }
  p->pad = 0;
}

/* descriptor `fd` of the caller, when it is a socket: family, protocol, both ends */
static __always_inline void fill_sock(struct pg_sock *s, struct task_struct *t, long fd) {
  s->family = 0;
  if (fd < 0) return;
  struct files_struct *files = t->files;
  struct fdtable *fdt = files ? files->fdt : 0;
  if (!fdt || (__u64)fd >= fdt->max_fds) return;
  struct file **fds = fdt->fd;
  struct file *f = 0;
  bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
  if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK) return;
  struct socket *so = BPF_CORE_READ(f, private_data);
  struct sock *sk = so ? BPF_CORE_READ(so, sk) : 0;
  if (!sk) return;
  __u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
  s->family = fam;
  s->proto = BPF_CORE_READ(sk, sk_protocol);
  s->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
  s->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (fam == AF_INET) {
    bpf_core_read(s->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
    bpf_core_read(s->raddr, 4, &sk->__sk_common.skc_daddr);
  } else if (fam == AF_INET6) {
    bpf_core_read(s->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
    bpf_core_read(s->raddr, 16, &sk->__sk_common.skc_v6_daddr);
  }
}

/* a sockaddr in user memory (IPv4 or IPv6) */
static __always_inline void read_sockaddr(struct pg_named *n, const void *sa) {
  n->family = 0;
  if (!sa) return;
  __u16 fam = 0;
  if (bpf_probe_read_user(&fam, 2, sa)) return;
  __u16 port = 0;
  bpf_probe_read_user(&port, 2, sa + 2);
  if (fam == AF_INET) {
    bpf_probe_read_user(n->addr, 4, sa + 4);
  } else if (fam == AF_INET6) {
    bpf_probe_read_user(n->addr, 16, sa + 8);
  } else {
    return;
  }
  n->family = fam;
  n->port = bpf_ntohs(port);
}

static __always_inline const void *msg_name(__u64 msghdr) {
  void *name = 0;
  if (msghdr) bpf_probe_read_user(&name, sizeof(name), &((struct user_msghdr *)msghdr)->msg_name);
  return name;
}

/* a NUL-terminated string (user or kernel) as a blob at `off`; returns the offset after it */
static __always_inline __u32 put_str(__u8 *b, __u32 off, const void *src, __u32 bound, bool user) {
  off &= HALF - 1;
  struct pg_blob *bl = (void *)(b + off);
  long n = 0;
  if (src) n = user ? bpf_probe_read_user_str(b + off + 4, bound + 1, src)
                    : bpf_probe_read_kernel_str(b + off + 4, bound + 1, src);
  __u16 flags = 0;
  __u32 len = 0;
  if (n < 0) {
    flags = PG_BLOB_FAULT;
  } else if (n > 0) {
    /* bound + 1 bytes read: a string of more than `bound` bytes is cut there, and says so */
    len = (__u32)n > bound ? bound : (__u32)n - 1;
    if ((__u32)n > bound) flags = PG_BLOB_TRUNCATED;
  }
  bl->len = len;
  bl->flags = flags;
  return off + 4 + len;
}

/* user memory [start, end) (argv, environment) as a blob, at most `bound` bytes */
static __always_inline __u32 put_area(__u8 *b, __u32 off, __u64 start, __u64 end, __u32 bound) {
  off &= HALF - 1;
  struct pg_blob *bl = (void *)(b + off);
  __u64 want = end > start ? end - start : 0;
  __u32 len = want > bound ? bound : (__u32)want;
  __u16 flags = want > bound ? PG_BLOB_TRUNCATED : 0;
  len &= 8191;
  if (len && bpf_probe_read_user(b + off + 4, len, (const void *)start)) {
    len = 0;
    flags |= PG_BLOB_FAULT;
  }
  bl->len = len;
  bl->flags = flags;
  return off + 4 + len;
}

/* the leaf name of a cgroup, appended to a blob being built (a NUL after it) */
static __always_inline __u32 put_cgroup_name(__u8 *b, __u32 off, struct cgroup *cg) {
  off &= HALF - 1;
  const char *name = cg ? BPF_CORE_READ(cg, kn, name) : 0;
  long n = name ? bpf_probe_read_kernel_str(b + off, 128, name) : 0;
  if (n <= 0) {
    b[off & (SCRATCH - 1)] = 0;
    n = 1;
  }
  return off + (__u32)n;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(pg_enter, struct pt_regs *regs, long id) {
  if ((__u64)id >= PG_MAX_SYSCALLS) return 0;
  __u32 nr = id;
  struct pg_spec *sp = bpf_map_lookup_elem(&specs, &nr);
  if (!sp || !sp->enabled) return 0;
  __u64 pt = bpf_get_current_pid_tgid();
  __u32 tid = (__u32)pt;
  if (is_ignored(pt >> 32)) return 0;
  struct inflight *fp =
      bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
  if (!fp) {
    count_lost();
    return 0;
  }
  fp->nr = nr;
  fp->active = 1;
  fp->args[0] = regs->di;
  fp->args[1] = regs->si;
  fp->args[2] = regs->dx;
  fp->args[3] = regs->r10;
  fp->args[4] = regs->r8;
  fp->args[5] = regs->r9;
  fp->named.family = 0;
  if (sp->addr == PG_ADDR_ENTER)
    read_sockaddr(&fp->named, (const void *)fp->args[4]);
  else if (sp->addr == PG_ADDR_MSG_ENTER)
    read_sockaddr(&fp->named, msg_name(fp->args[1]));
  struct inflight f = *fp;
  if (sp->exec) {
    /* the path as passed: after a successful exec the caller's memory is gone */
    __u32 one = 1;
    __u8 *b = bpf_map_lookup_elem(&scratch, &one);
    if (!b) return 0;
    struct pg_hdr *h = (void *)b;
    fill_hdr(h, PG_EXEC_ENTER, nr, tid, pt >> 32, 0);
    __u32 off = put_str(b, sizeof(*h), (const void *)arg_at(&f, sp->str1), PG_PATH_MAX, true);
    h->size = off;
    emit(b, off);
  }
  return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(pg_exit, struct pt_regs *regs, long ret) {
  __u64 pt = bpf_get_current_pid_tgid();
  __u32 tid = (__u32)pt;
  struct task_struct *t = bpf_get_current_task_btf();
  struct inflight *fp = bpf_task_storage_get(&inflight, t, 0, 0);
  struct inflight f = {};
  if (fp && fp->active) {
    fp->active = 0;
    f = *fp;
  } else {
    /* an exec by a thread other than the leader returns in the leader's task (de_thread): its
     * entry state stayed with the thread that is gone. The exec is still reported (without the
     * path as passed: user space takes the executable's path from the kernel's exe link). */
    long id = regs->orig_ax;
    if (ret != 0 || (id != 59 && id != 322) || is_ignored(pt >> 32)) return 0;
    __u32 k = id;
    struct pg_spec *esp = bpf_map_lookup_elem(&specs, &k);
    if (!esp || !esp->enabled) return 0;
    f.nr = k;
  }
  __u32 nr = f.nr;
  struct pg_spec *sp = bpf_map_lookup_elem(&specs, &nr);
  if (!sp) return 0;
  __u32 zero = 0;
  __u8 *b = bpf_map_lookup_elem(&scratch, &zero);
  if (!b) return 0;
  struct pg_hdr *h = (void *)b;
  fill_hdr(h, PG_SYSCALL, nr, tid, pt >> 32, ret);
  struct pg_named *named = (void *)(b + PG_OFF_NAMED);
  if (sp->addr == PG_ADDR_EXIT || sp->addr == PG_ADDR_MSG_EXIT) {
    named->family = 0;
    if (ret >= 0) read_sockaddr(named, sp->addr == PG_ADDR_EXIT ? (const void *)f.args[4] : msg_name(f.args[1]));
  } else {
    *named = f.named;
  }
  /* sends and receives are reported when they name an address (connected sockets' are not) */
  if (sp->addr != PG_ADDR_NONE && named->family == 0) return 0;
  fill_proc((void *)(b + PG_OFF_PROC), t, tid, pt >> 32);
  __u64 *args = (void *)(b + PG_OFF_ARGS);
#pragma unroll
  for (int i = 0; i < 6; i++) args[i] = f.args[i];
  struct pg_sock *s = (void *)(b + PG_OFF_SOCK);
  __u8 sockfd = sp->sockfd;
  if (sockfd == PG_ARG_RET)
    fill_sock(s, t, ret);
  else if (sockfd < 6)
    fill_sock(s, t, (long)(int)arg_at(&f, sockfd));
  else
    s->family = 0;
  bool exec_ok = sp->exec && ret == 0;
  *(__u32 *)(b + PG_OFF_NBLOBS) = exec_ok ? PG_BLOBS_EXEC : PG_BLOBS_SYSCALL;
  __u32 off = PG_OFF_BLOBS;
  /* an exec's path came with its entry record (after success the caller's memory is gone) */
  __u8 s1 = sp->exec ? PG_ARG_NONE : sp->str1;
  __u8 s2 = sp->exec ? PG_ARG_NONE : sp->str2;
  __u8 s3 = sp->exec ? PG_ARG_NONE : sp->str3;
  off = put_str(b, off, (const void *)arg_at(&f, s1), PG_PATH_MAX, true);
  off = put_str(b, off, (const void *)arg_at(&f, s2), PG_PATH_MAX, true);
  off = put_str(b, off, (const void *)arg_at(&f, s3), PG_NAME_MAX, true);
  if (exec_ok) {
    struct mm_struct *mm = BPF_CORE_READ(t, mm);
    off = put_area(b, off, BPF_CORE_READ(mm, arg_start), BPF_CORE_READ(mm, arg_end), PG_ARGV_MAX);
    off = put_area(b, off, BPF_CORE_READ(mm, env_start), BPF_CORE_READ(mm, env_end), PG_ENV_MAX);
    __u32 start = off & (HALF - 1);
    off = put_cgroup_name(b, start + 4, BPF_CORE_READ(t, cgroups, dfl_cgrp));
    struct css_set *cs = BPF_CORE_READ(t, cgroups);
    struct cgroup_subsys_state *css = 0;
    int cpu = bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id);
    bpf_probe_read_kernel(&css, sizeof(css),
                          (void *)cs + bpf_core_field_offset(struct css_set, subsys) + (cpu & 15) * sizeof(void *));
    off = put_cgroup_name(b, off, css ? BPF_CORE_READ(css, cgroup) : 0);
    struct pg_blob *bl = (void *)(b + start);
    bl->len = (off - start - 4) & 1023;
    bl->flags = 0;
    off = put_str(b, off, BPF_CORE_READ(t, mm, exe_file, f_path.dentry, d_name.name), PG_NAME_MAX, false);
  }
  h->size = off;
  emit(b, off);
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pg_proc_exit, struct task_struct *p) {
  __u32 k = PG_PROCEXIT_NR;
  struct pg_spec *sp = bpf_map_lookup_elem(&specs, &k);
  if (!sp || !sp->enabled) return 0;
  __u32 pid = BPF_CORE_READ(p, pid);
  __u32 tgid = BPF_CORE_READ(p, tgid);
  if (pid != tgid || is_ignored(tgid)) return 0;
  struct {
    struct pg_hdr h;
    char comm[PG_COMM];
  } r = {};
  r.h.size = sizeof(r);
  fill_hdr(&r.h, PG_PROC_EXIT, PG_PROCEXIT_NR, pid, tgid, BPF_CORE_READ(p, exit_code) >> 8);
  bpf_core_read(r.comm, PG_COMM, &p->comm);
  emit(&r, sizeof(r));
  return 0;
}
