/**
 * Minimal protobuf wire writer for sensor batches: appends into a growing buffer.
 * Field helpers skip default values (proto3 semantics).
 */
export class WireWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(v: number): void {
    this.ensure(10);
    let x = v;
    if (x < 0) {
      // two's complement 64-bit for negative int64
      let big = BigInt.asUintN(64, BigInt(x));
      while (big >= 0x80n) {
        this.buf[this.pos++] = Number(big & 0x7fn) | 0x80;
        big >>= 7n;
      }
      this.buf[this.pos++] = Number(big);
      return;
    }
    while (x >= 0x80) {
      this.buf[this.pos++] = (x % 128) | 0x80;
      x = Math.floor(x / 128);
    }
    this.buf[this.pos++] = x;
  }

  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** uint32/uint64 field (omitted when 0). */
  uint(field: number, v: number | undefined): void {
    if (!v) return;
    this.tag(field, 0);
    this.varint(v);
  }

  /** sint32/sint64 field, zigzag (omitted when 0). */
  sint(field: number, v: number | undefined): void {
    if (!v) return;
    this.tag(field, 0);
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  /**
   * `optional` uint32/uint64 field (proto3 explicit presence): written whenever defined, 0
   * included, so a reader tells 0 (root's uid) from missing.
   */
  optUint(field: number, v: number | undefined): void {
    if (v === undefined) return;
    this.tag(field, 0);
    this.varint(v);
  }

  /** `optional` sint32/sint64 field (zigzag): written whenever defined, 0 included. */
  optSint(field: number, v: number | undefined): void {
    if (v === undefined) return;
    this.tag(field, 0);
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  bool(field: number, v: boolean | undefined): void {
    if (!v) return;
    this.tag(field, 0);
    this.varint(1);
  }

  /** `optional fixed64`: written whenever defined, 0 included. */
  optFixed64(field: number, v: bigint | undefined): void {
    if (v === undefined) return;
    this.tag(field, 1);
    this.ensure(8);
    this.buf.writeBigUInt64LE(v, this.pos);
    this.pos += 8;
  }

  fixed64(field: number, v: bigint | undefined): void {
    if (!v) return;
    this.tag(field, 1);
    this.ensure(8);
    this.buf.writeBigUInt64LE(v, this.pos);
    this.pos += 8;
  }

  string(field: number, s: string): void {
    const n = Buffer.byteLength(s);
    this.tag(field, 2);
    this.varint(n);
    this.ensure(n);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += n;
  }

  /** Packed repeated uint32 (omitted when empty). */
  packed(field: number, vs: readonly number[]): void {
    if (vs.length === 0) return;
    const inner = new WireWriter(vs.length * 2 + 8);
    for (const x of vs) inner.varint(x);
    this.bytes(field, inner.finish());
  }

  bytes(field: number, b: Buffer): void {
    this.tag(field, 2);
    this.varint(b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  /** The bytes written so far (a copy-free view). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
