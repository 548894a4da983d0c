import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { errorMessage } from '../event/index.js';
import { MAX_RULES_FILE_BYTES } from '../rules/index.js';
import type { Logger } from '../telemetry/index.js';

/** A rules file published at an HTTPS URL. */
export interface RulesUrl {
  readonly url: string;
  /** Pin: the content must have this sha256 (hex), else it is rejected. */
  readonly sha256?: string;
  readonly pollSeconds: number;
  /** CA bundle for a private PKI (the system roots otherwise). */
  readonly ca?: string;
}

/** Largest rules document accepted over HTTP: what the loader accepts from a file. */
const MAX_BYTES = MAX_RULES_FILE_BYTES;
/** The whole of one fetch (connect, headers, body), however slowly the server sends. */
export const FETCH_DEADLINE_MS = 20_000;

/**
 * Keeps local copies of rules published over HTTPS, the way a security team publishes a rules
 * repository: conditional GETs with ETag (304 costs nothing), content pinned by sha256 when
 * configured, written atomically to `cacheDir` (so a reload never reads half a file). A failed
 * fetch keeps the last good copy and is reported; `onChange` runs when a copy changes.
 */
export class RulesFetcher {
  private readonly etags = new Map<string, string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly urls: readonly RulesUrl[],
    private readonly cacheDir: string,
    private readonly log: Logger,
    private readonly onChange: () => void,
    private readonly onFailure: (url: string, why: string) => void,
  ) {
    mkdirSync(cacheDir, { recursive: true });
  }

  /** The local file of each URL (what the rules loader reads). */
  get paths(): string[] {
    return this.urls.map((u) => this.fileOf(u.url));
  }

  private fileOf(url: string): string {
    return join(this.cacheDir, `${createHash('sha256').update(url).digest('hex').slice(0, 16)}.yaml`);
  }

  /**
   * Lifecycle start: fetches every URL once (failures are thrown, so start-up fails loudly), then
   * polls each every `pollSeconds`.
   */
  async start(): Promise<void> {
    await this.fetchAll();
    this.poll();
  }

  /** Fetches every URL once; throws listing the URLs that failed. */
  async fetchAll(): Promise<void> {
    const errors: string[] = [];
    for (const u of this.urls) {
      const r = await this.fetchOne(u);
      if (r instanceof Error) errors.push(`${mask(u.url)}: ${r.message}`);
    }
    if (errors.length) throw new Error(`rules URLs could not be fetched:\n  ${errors.join('\n  ')}`);
  }

  /** Polls each URL every `pollSeconds`. */
  poll(): void {
    for (const u of this.urls) {
      const t = setInterval(() => {
        if (this.inFlight.has(u.url)) return; // a slow server: polls never pile up
        this.inFlight.add(u.url);
        void this.fetchOne(u).then((r) => {
          this.inFlight.delete(u.url);
          if (r === true) this.onChange();
          else if (r instanceof Error) this.onFailure(mask(u.url), r.message);
        });
      }, u.pollSeconds * 1000);
      t.unref();
      this.timers.push(t);
    }
  }

  /**
   * true: changed; false: unchanged (304 or same content); Error: failed (last copy kept).
   * Never throws; takes at most {@link FETCH_DEADLINE_MS}.
   */
  async fetchOne(u: RulesUrl, deadlineMs = FETCH_DEADLINE_MS): Promise<boolean | Error> {
    let res: { status: number; etag?: string; body: Buffer };
    try {
      res = await get(u, this.etags.get(u.url), deadlineMs);
    } catch (err) {
      return err instanceof Error ? err : new Error(errorMessage(err));
    }
    try {
      return this.store(u, res);
    } catch (err) {
      return new Error(`cannot keep the fetched copy: ${errorMessage(err)}`);
    }
  }

  private store(u: RulesUrl, res: { status: number; etag?: string; body: Buffer }): boolean | Error {
    if (res.status === 304) return false;
    if (res.status !== 200) return new Error(`HTTP ${res.status}`);
    const digest = createHash('sha256').update(res.body).digest('hex');
    if (u.sha256 && digest !== u.sha256)
      return new Error(`content sha256 ${digest} does not match the pinned ${u.sha256}`);
    const file = this.fileOf(u.url);
    let previous: Buffer | undefined;
    try {
      previous = readFileSync(file);
    } catch {
      /* first fetch */
    }
    if (res.etag) this.etags.set(u.url, res.etag);
    if (previous && previous.equals(res.body)) return false;
    writeFileSync(`${file}.tmp`, res.body);
    renameSync(`${file}.tmp`, file);
    this.log.info({ url: mask(u.url), sha256: digest }, 'rules fetched');
    return true;
  }

  /** Stops polling (a fetch in flight ends at its own deadline; its result is ignored). Idempotent. */
  async shutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
  }
}

function get(
  u: RulesUrl,
  etag: string | undefined,
  deadlineMs: number,
): Promise<{ status: number; etag?: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    // one deadline for all of it: a server that trickles a byte now and then is cut off too
    const signal = AbortSignal.timeout(deadlineMs);
    const req = https.get(
      u.url,
      {
        headers: etag ? { 'if-none-match': etag } : {},
        timeout: 15_000,
        signal,
        ...(u.ca ? { ca: readFileSync(u.ca) } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BYTES) req.destroy(new Error(`larger than ${MAX_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, etag: res.headers.etag, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no data for 15 s')));
    req.on('error', (err) => reject(signal.aborted ? new Error(`not complete within ${deadlineMs / 1000} s`) : err));
  });
}

/** A URL for logs: scheme, host and path, without query or credentials. */
function mask(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<invalid URL>';
  }
}
