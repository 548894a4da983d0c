/**
 * Child process for the sources benchmark: serves pre-encoded messages as fast as the client
 * takes them (honouring backpressure), on its own core. Prints `LISTENING <address>` when ready.
 * argv: sensor|tetragon COUNT
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { encodeBatch, sensorServiceDefinition, type SensorEvent } from '../src/sensor/index.js';
import { codec, grpcMethod, loadProtoRoot, passThrough } from '../src/transport/index.js';
import { FALCO_REFERENCE } from '../src/defaults.js';

const [kind, countArg, rateArg] = process.argv.slice(2);
const count = Number(countArg);
const UPSTREAM = FALCO_REFERENCE;

/** Realistic sensor events built from the real traces (opens, execs, connects, ...). */
function traceEvents(): SensorEvent[] {
  const out: SensorEvent[] = [];
  for (const t of ['sysdig-inspect__502Error', 'libs__curl_google', 'libs__sample']) {
    for (const line of readFileSync(`${UPSTREAM}traces/${t}.jsonl`, 'utf8').split('\n')) {
      if (!line) continue;
      const j = JSON.parse(line) as Record<string, string | number | boolean>;
      const s = (k: string): string | undefined => (j[k] === undefined ? undefined : String(j[k]));
      const n = (k: string): number | undefined => (typeof j[k] === 'number' ? j[k] : undefined);
      out.push({
        tsNs: BigInt(Math.trunc(Number(j['evt.time'] ?? 0))),
        type: String(j['evt.type']),
        res: n('evt.rawres') ?? 0,
        tid: n('thread.tid') ?? 0,
        pid: n('proc.pid') ?? 0,
        ppid: n('proc.ppid'),
        vpid: n('proc.vpid'),
        sid: n('proc.sid'),
        name: s('proc.name') ?? '',
        exe: s('proc.exe'),
        exepath: s('proc.exepath'),
        args: s('proc.args'),
        cwd: s('proc.cwd'),
        tty: n('proc.tty'),
        uid: n('user.uid'),
        loginuid: n('user.loginuid'),
        user: s('user.name'),
        group: s('group.name'),
        ancestors: [1, 2, 3, 4, 5]
          .map((i) => ({ name: s(`proc.aname[${i}]`), pid: n(`proc.apid[${i}]`) }))
          .filter((a) => a.name),
        fd:
          n('fd.num') !== undefined
            ? {
                num: n('fd.num')!,
                type: s('fd.type') ?? 'file',
                name: s('fd.name'),
                cip: s('fd.cip'),
                sip: s('fd.sip'),
                cport: n('fd.cport'),
                sport: n('fd.sport'),
                l4proto: s('fd.l4proto'),
              }
            : undefined,
        params: Object.fromEntries(
          Object.entries(j)
            .filter(([k]) => k.startsWith('evt.arg.'))
            .map(([k, v]) => [k.slice(8), String(v)]),
        ),
        containerId: s('container.id'),
      });
    }
  }
  return out;
}

function tetragonMessages(): Buffer[] {
  const root = loadProtoRoot();
  const t = root.lookupType('tetragon.GetEventsResponse');
  const time = { seconds: 1764424800, nanos: 1 };
  const pod = {
    namespace: 'shop',
    name: 'web-1',
    container: { id: 'containerd://3ad7b26ded6d1c2b', name: 'web', image: { name: 'nginx:1.27' } },
    pod_labels: { app: 'web' },
    workload: 'web',
    workload_kind: 'Deployment',
  };
  const proc = (binary: string, args: string, pid: number): object => ({
    exec_id: `e${pid}`,
    pid: { value: pid },
    uid: { value: 0 },
    cwd: '/',
    binary,
    arguments: args,
    start_time: time,
    auid: { value: 4294967295 },
    pod,
    docker: '3ad7b26ded6d',
  });
  const parent = proc('/bin/bash', '', 100);
  const msgs: object[] = [];
  for (let i = 0; i < 50; i++) {
    msgs.push({
      process_exec: {
        process: proc(`/usr/bin/tool${i % 7}`, `--arg ${i}`, 1000 + i),
        parent,
        ancestors: [proc('/sbin/init', '', 1)],
      },
      node_name: 'n',
      time,
    });
    msgs.push({
      process_kprobe: {
        process: proc('/usr/bin/cat', `/etc/file${i}`, 2000 + i),
        parent,
        function_name: 'security_file_permission',
        args: [{ file_arg: { path: `/etc/file${i}` } }, { int_arg: 4 }],
        return: { int_arg: 0 },
        action: 1,
      },
      node_name: 'n',
      time,
    });
    msgs.push({
      process_kprobe: {
        process: proc('/usr/bin/curl', 'x', 3000 + i),
        parent,
        function_name: 'tcp_connect',
        args: [
          {
            sock_arg: {
              family: 'AF_INET',
              protocol: 'IPPROTO_TCP',
              saddr: '10.0.0.5',
              daddr: `10.1.0.${i}`,
              sport: 40000 + i,
              dport: 443,
            },
          },
        ],
        action: 1,
      },
      node_name: 'n',
      time,
    });
  }
  return msgs.map((m) => Buffer.from(t.encode(t.fromObject(m)).finish()));
}

async function writeAll(
  call: grpc.ServerWritableStream<unknown, Buffer>,
  msgs: Buffer[],
  total: number,
): Promise<void> {
  for (let i = 0; i < total; i++) {
    if (!call.write(msgs[i % msgs.length])) await new Promise<void>((r) => call.once('drain', () => r()));
  }
  call.end();
}

const server = new grpc.Server({ 'grpc.max_send_message_length': 64 * 1024 * 1024 });
const root = loadProtoRoot();
let payload: Buffer[];
let messages: number;
/** The sensor API's Subscribe: pre-encoded batches out. */
const subscribe = sensorServiceDefinition().Subscribe;
if (kind === 'sensor-paced') {
  // Events stamped with the real time, published every 10 ms at RATE/s, COUNT in all.
  const evs = traceEvents().filter((e) => ['open', 'openat', 'execve', 'connect'].includes(e.type));
  const rate = Number(rateArg);
  payload = [];
  messages = 0;
  server.addService(
    {
      Subscribe: subscribe,
    },
    {
      Subscribe: (call: grpc.ServerWritableStream<unknown, Buffer>) => {
        let sent = 0;
        const per = Math.max(1, Math.round(rate / 100));
        const timer = setInterval(() => {
          const now = BigInt(Date.now()) * 1_000_000n;
          const chunk = Array.from({ length: per }, (_, i) => ({ ...evs[(sent + i) % evs.length], tsNs: now }));
          call.write(encodeBatch(42, sent + 1, chunk));
          sent += per;
          if (sent >= count) {
            clearInterval(timer);
            call.end();
          }
        }, 10);
        call.on('cancelled', () => clearInterval(timer));
      },
    },
  );
} else if (kind === 'sensor' || kind === 'sensor-in-pods') {
  // sensor-in-pods: every event in one of 1,000 containers (k8s-bench's CRI server serves them)
  const inPods = kind === 'sensor-in-pods';
  const evs = traceEvents().map((e, i) =>
    inPods ? { ...e, containerId: ('c' + (i % 1000).toString(16).padStart(8, '0')).padEnd(64, 'a').slice(0, 12) } : e,
  );
  const per = 1024;
  messages = Math.ceil(count / per);
  payload = [];
  for (let b = 0; b < messages; b++) {
    const chunk = Array.from({ length: per }, (_, i) => evs[(b * per + i) % evs.length]);
    payload.push(encodeBatch(42, b * per + 1, chunk));
  }
  server.addService(
    {
      Subscribe: subscribe,
    },
    { Subscribe: (call: grpc.ServerWritableStream<unknown, Buffer>) => void writeAll(call, payload, messages) },
  );
} else {
  payload = tetragonMessages();
  messages = count;
  server.addService(
    {
      GetEvents: grpcMethod(
        '/tetragon.FineGuidanceSensors/GetEvents',
        codec<object>(root, 'tetragon.GetEventsRequest'),
        passThrough,
        'server',
      ),
    },
    { GetEvents: (call: grpc.ServerWritableStream<unknown, Buffer>) => void writeAll(call, payload, messages) },
  );
}
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`LISTENING 127.0.0.1:${port}\n`);
});
