/** A protobuf wire-format error: the message is malformed. */
export class WireFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireFormatError';
  }
}

/**
 * Minimal protobuf wire reader for the hot decoders (sensor batches): varints as numbers,
 * fixed64 as bigint, strings sliced from the buffer. Bounds-checked; throws
 * {@link WireFormatError} on truncated or malformed input.
 */
export class WireReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    public end: number = buf.length,
  ) {
    this.pos = start;
  }

  /** A varint up to 2^53 as a number (hot path: the common 1–2 byte case first). */
  varint(): number {
    const b = this.buf;
    let p = this.pos;
    if (p >= this.end) throw new WireFormatError('truncated varint');
    let x = b[p++];
    if (x < 0x80) {
      this.pos = p;
      return x;
    }
    x &= 0x7f;
    let mul = 128;
    for (let i = 1; i < 10; i++) {
      if (p >= this.end) throw new WireFormatError('truncated varint');
      const byte = b[p++];
      x += (byte & 0x7f) * mul;
      if (byte < 0x80) {
        this.pos = p;
        return x;
      }
      mul *= 128;
    }
    throw new WireFormatError('varint longer than 10 bytes');
  }

  /** int64/int32 varint (two's complement for negatives). */
  int64(): number {
    const v = this.varint();
    return v >= 2 ** 63 ? v - 2 ** 64 : v;
  }

  /** sint64/sint32 (zigzag). */
  sint(): number {
    const v = this.varint();
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }

  fixed64(): bigint {
    if (this.pos + 8 > this.end) throw new WireFormatError('truncated fixed64');
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Length of a length-delimited field; checks it fits. */
  length(): number {
    const n = this.varint();
    if (this.pos + n > this.end) throw new WireFormatError(`length ${n} runs past the end of the message`);
    return n;
  }

  string(): string {
    const n = this.length();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** Skips a field of the given wire type. */
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const n = this.length(); // read first: it advances pos
        this.pos += n;
        return;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new WireFormatError(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new WireFormatError('truncated field');
  }

  /** Reads a repeated uint32 field (packed or not) into `out`. */
  uint32s(wireType: number, out: number[]): void {
    if (wireType === 2) {
      const n = this.length(); // read first: it advances pos
      const end = this.pos + n;
      while (this.pos < end) out.push(this.varint());
    } else out.push(this.varint());
  }
}
