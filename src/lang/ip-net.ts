import { isIP } from 'node:net';

/** An IPv4/IPv6 network in CIDR form, matched against addresses as text. */
export interface IpNet {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** Parses an address to bytes (4 or 16); undefined when not an address. */
export function ipBytes(text: string): Uint8Array | undefined {
  const kind = isIP(text);
  if (kind === 4) return Uint8Array.from(text.split('.').map(Number));
  if (kind !== 6) return undefined;
  let t = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  let tail: number[] = [];
  if (v4) {
    const b = v4[1].split('.').map(Number);
    tail = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    t = t.slice(0, -v4[1].length) + '0:0';
  }
  const [head, rest] = t.split('::');
  const hs = head ? head.split(':') : [];
  const rs = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = rest === undefined ? hs : [...hs, ...new Array<string>(8 - hs.length - rs.length).fill('0'), ...rs];
  const words = groups.map((g) => parseInt(g, 16));
  if (tail.length) words.splice(6, 2, ...tail);
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** Parses `10.0.0.0/8`, `::1/128` or a bare address (full-length prefix). */
export function parseIpNet(text: string): IpNet | undefined {
  const [addr, len] = text.split('/');
  const bytes = ipBytes(addr);
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  const prefix = len === undefined ? max : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { bytes, prefix };
}

/** True when `addr` (text) lies inside `net`. IPv4-mapped IPv6 addresses match IPv4 networks. */
export function netContains(net: IpNet, addr: string): boolean {
  let b = ipBytes(addr);
  if (!b) return false;
  if (b.length === 16 && net.bytes.length === 4 && b.slice(0, 12).every((x, i) => x === (i >= 10 ? 0xff : 0)))
    b = b.slice(12);
  if (b.length !== net.bytes.length) return false;
  let bits = net.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((b[i] & mask) !== (net.bytes[i] & mask)) return false;
  }
  return true;
}
