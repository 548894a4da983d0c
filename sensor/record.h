/*
 * Peregrine sensor v2: the binary record layout shared by the eBPF program, the loader and the
 * TypeScript decoder (src/sensor/record-layout.ts mirrors every offset here; change both).
 *
 * Every record starts with pg_hdr; `size` is the whole record in bytes, written by the kernel
 * program (never taken from user memory), so no byte a traced process controls can split or
 * merge records. All integers are little-endian. Strings travel as blobs: a pg_blob header with
 * the byte length the kernel read (no terminator) and flags, then the bytes.
 */
#ifndef PEREGRINE_RECORD_H
#define PEREGRINE_RECORD_H

/* record types */
#define PG_SYSCALL 1    /* a syscall's exit: hdr, proc, args, sock, named, blob count, blobs */
#define PG_EXEC_ENTER 2 /* execve/execveat entry: hdr, one blob (the path as passed) */
#define PG_PROC_EXIT 3  /* a process (thread group leader) exits: hdr (res = exit status), comm[16] */
#define PG_LOST 100     /* loader: hdr, then u64 count per CPU (records the kernel could not queue) */
#define PG_READY 101    /* loader: probes attached */

/* pg_proc.exe_flags */
#define PG_EXE_UPPER 1    /* the executable is in an overlayfs upper layer */
#define PG_EXE_MEMFD 2    /* the executable is a memfd (memfd_create) */
#define PG_EXE_WRITABLE 4 /* the caller's user can write the executable */

/* pg_blob.flags */
#define PG_BLOB_TRUNCATED 1 /* longer than the sensor's bound: the bytes are a prefix */
#define PG_BLOB_FAULT 2     /* the memory could not be read */

/* blobs of a PG_SYSCALL record, by position */
#define PG_B_STR1 0   /* first string argument (a path as passed) */
#define PG_B_STR2 1   /* second string argument */
#define PG_B_STR3 2   /* third string argument */
#define PG_B_ARGV 3   /* execs: the new program's argv, NUL-separated */
#define PG_B_ENV 4    /* execs: its environment, NUL-separated */
#define PG_B_CGROUP 5 /* execs: leaf names of the unified and the cpu cgroup, NUL-separated */
#define PG_B_EXE 6    /* execs: the executable's file name as the kernel has it */
#define PG_BLOBS_SYSCALL 3
#define PG_BLOBS_EXEC 7

#define PG_ANCESTORS 5
#define PG_COMM 16

/* bounds: what a record holds at most */
#define PG_PATH_MAX 4096
#define PG_ARGV_MAX 4096
#define PG_ENV_MAX 4096
#define PG_NAME_MAX 256

struct pg_hdr { /* 32 bytes */
  __u32 size;
  __u16 type;
  __u16 nr; /* syscall number (x86_64) */
  __u64 ts; /* CLOCK_MONOTONIC ns */
  __u32 tid;
  __u32 pid;
  __s64 res;
};

struct pg_proc { /* 224 bytes: the caller, read in the kernel at the event */
  __u32 ppid, vpid, vtid, vpgid;
  __u32 sid, tty, uid, gid; /* uid/gid: effective */
  __u32 loginuid, ruid, rgid, exe_flags;
  __u64 cap_effective, cap_permitted, cap_inheritable;
  __u64 exe_ino, exe_ctime, exe_mtime; /* ns since the epoch */
  __u64 start_ns;                      /* thread group start, CLOCK_MONOTONIC ns */
  char comm[PG_COMM];
  __u32 anc_pid[PG_ANCESTORS];
  __u32 pad;
  char anc_comm[PG_ANCESTORS][PG_COMM];
};

struct pg_sock { /* 40 bytes: the descriptor's socket, family 0 when it is none */
  __u16 family, proto, lport, rport;
  __u8 laddr[16], raddr[16];
};

struct pg_named { /* 20 bytes: the address a send/receive names, family 0 when none */
  __u16 family, port;
  __u8 addr[16];
};

struct pg_blob {
  __u16 len;
  __u16 flags;
};

/* offsets in a PG_SYSCALL record */
#define PG_OFF_PROC 32
#define PG_OFF_ARGS (PG_OFF_PROC + 224)
#define PG_OFF_SOCK (PG_OFF_ARGS + 48)
#define PG_OFF_NAMED (PG_OFF_SOCK + 40)
#define PG_OFF_NBLOBS (PG_OFF_NAMED + 20)
#define PG_OFF_BLOBS (PG_OFF_NBLOBS + 4)

/* what user space tells the kernel about a syscall (map `specs`, by number) */
#define PG_ARG_NONE 9
#define PG_ARG_RET 6
#define PG_ADDR_NONE 0
#define PG_ADDR_ENTER 1     /* sockaddr pointer in arg 4 (sendto), read at entry */
#define PG_ADDR_MSG_ENTER 2 /* msghdr pointer in arg 1 (sendmsg), its msg_name read at entry */
#define PG_ADDR_EXIT 3      /* sockaddr pointer in arg 4 (recvfrom), read at exit */
#define PG_ADDR_MSG_EXIT 4  /* msghdr pointer in arg 1 (recvmsg), its msg_name read at exit */
/* calls with an address kind report only calls that name an address (not connected sends) */

struct pg_spec {
  __u8 enabled; /* emit this syscall's events */
  __u8 str1;    /* argument index of the first string, PG_ARG_NONE when none */
  __u8 str2;
  __u8 str3;
  __u8 sockfd;  /* argument index (or PG_ARG_RET) of a descriptor to describe as a socket */
  __u8 addr;    /* PG_ADDR_* */
  __u8 exec;    /* an exec: entry record, argv/env/cgroup/exe at exit */
  __u8 pad;
};

#define PG_MAX_SYSCALLS 512
#define PG_PROCEXIT_NR 511 /* specs[511].enabled switches process exit events */

#endif
