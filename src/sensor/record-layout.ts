/**
 * The sensor v2 record layout: every constant and offset of sensor/record.h, mirrored for the
 * decoder. Change both files together (test/sensor-kernel.test.ts decodes real records).
 */

export const REC = {
  SYSCALL: 1,
  EXEC_ENTER: 2,
  PROC_EXIT: 3,
  LOST: 100,
  READY: 101,
} as const;

/** pg_hdr: size u32, type u16, nr u16, ts u64, tid u32, pid u32, res s64. */
export const HDR = { SIZE: 0, TYPE: 4, NR: 6, TS: 8, TID: 16, PID: 20, RES: 24, BYTES: 32 } as const;

/** pg_proc, relative to its start (PROC_AT). */
export const PROC = {
  PPID: 0,
  VPID: 4,
  VTID: 8,
  VPGID: 12,
  SID: 16,
  TTY: 20,
  UID: 24,
  GID: 28,
  LOGINUID: 32,
  RUID: 36,
  RGID: 40,
  EXE_FLAGS: 44,
  CAP_EFFECTIVE: 48,
  CAP_PERMITTED: 56,
  CAP_INHERITABLE: 64,
  EXE_INO: 72,
  EXE_CTIME: 80,
  EXE_MTIME: 88,
  START_NS: 96,
  COMM: 104,
  ANC_PID: 120,
  ANC_COMM: 144,
  BYTES: 224,
} as const;

export const PROC_AT = 32;
export const ARGS_AT = PROC_AT + PROC.BYTES;
export const SOCK_AT = ARGS_AT + 48;
export const NAMED_AT = SOCK_AT + 40;
export const NBLOBS_AT = NAMED_AT + 20;
export const BLOBS_AT = NBLOBS_AT + 4;

/** Blobs of a syscall record by position. */
export const BLOB = { STR1: 0, STR2: 1, STR3: 2, ARGV: 3, ENV: 4, CGROUP: 5, EXE: 6 } as const;
export const BLOB_TRUNCATED = 1;
export const BLOB_FAULT = 2;

export const ANCESTORS = 5;
export const COMM_BYTES = 16;

/** No record is larger (the kernel builds them in a 32 KiB buffer). */
export const MAX_RECORD_BYTES = 32_768;
