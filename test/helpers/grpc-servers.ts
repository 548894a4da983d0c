import * as grpc from '@grpc/grpc-js';
import { sensorServiceDefinition } from '../../src/sensor/index.js';
import {
  codec,
  grpcMethod,
  grpcTarget,
  loadProtoRoot,
  passThrough,
  serverCredentials,
  type TlsFiles,
} from '../../src/transport/index.js';

const root = loadProtoRoot();

/** Encodes a message of `type` from a plain object (test data). */
export function encode(type: string, obj: object): Buffer {
  const t = root.lookupType(type);
  const err = t.verify(obj);
  if (err) throw new Error(`${type}: ${err}`);
  return Buffer.from(t.encode(t.fromObject(obj)).finish());
}

export interface FakeServer {
  readonly address: string;
  readonly requests: unknown[];
  /** Messages to stream to the next (and every) subscriber. */
  send(msgs: Buffer[]): void;
  kill(): void;
  stop(): Promise<void>;
}

/**
 * A server whose streaming method `stream` sends whatever `send` gets to every subscriber; its
 * other methods answer with `unary` (method name → response).
 */
async function broadcastServer(
  definition: grpc.ServiceDefinition,
  stream: string,
  unary: Readonly<Record<string, object>>,
  listen: string,
  tls?: TlsFiles,
): Promise<FakeServer> {
  const calls = new Set<grpc.ServerWritableStream<object, Buffer>>();
  const requests: unknown[] = [];
  const server = new grpc.Server();
  const handlers: grpc.UntypedServiceImplementation = {
    [stream]: (call: grpc.ServerWritableStream<object, Buffer>) => {
      requests.push(call.request);
      calls.add(call);
      call.on('cancelled', () => calls.delete(call));
    },
  };
  for (const [name, answer] of Object.entries(unary)) {
    handlers[name] = (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, answer);
  }
  server.addService(definition, handlers);
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync(grpcTarget(listen), serverCredentials(tls), (e, p) => (e ? rej(e) : res(p))),
  );
  return {
    address: listen.startsWith('unix') ? listen : listen.replace(/:0$/, `:${port}`),
    requests,
    send: (msgs) => {
      for (const c of calls) for (const m of msgs) c.write(m);
    },
    kill: () => server.forceShutdown(),
    stop: () => stopServer(server),
  };
}

/** A Tetragon-compatible server: GetEvents streams what `send` gets, to every subscriber. */
export function tetragonServer(listen = '127.0.0.1:0', tls?: TlsFiles): Promise<FakeServer> {
  const definition: grpc.ServiceDefinition = {
    GetEvents: grpcMethod(
      '/tetragon.FineGuidanceSensors/GetEvents',
      codec<object>(root, 'tetragon.GetEventsRequest'),
      passThrough,
      'server',
    ),
    GetVersion: grpcMethod(
      '/tetragon.FineGuidanceSensors/GetVersion',
      codec<object>(root, 'tetragon.GetVersionRequest'),
      codec<object>(root, 'tetragon.GetVersionResponse'),
    ),
  };
  return broadcastServer(definition, 'GetEvents', { GetVersion: { version: 'v1.7.0' } }, listen, tls);
}

/**
 * A Peregrine sensor API server that streams whatever bytes `send` gets (well-formed batches or
 * not) to every subscriber and reports itself healthy: for feeding a sensor source hostile input.
 */
export function rawSensorServer(listen = '127.0.0.1:0'): Promise<FakeServer> {
  return broadcastServer(
    sensorServiceDefinition(),
    'Subscribe',
    {
      GetVersion: { version: 'raw', api_version: 1, backend: 'test' },
      GetHealth: { healthy: true, reason: '', stream_id: 1 },
    },
    listen,
  );
}

/**
 * A Falco-compatible outputs server reproducing `sub`'s behaviour: after sending what is queued
 * it waits for the client's next (empty) request before sending more.
 */
export async function falcoServer(
  listen = '127.0.0.1:0',
  tls?: TlsFiles,
): Promise<FakeServer & { readonly requestsSeen: () => number }> {
  const queue: Buffer[] = [];
  const waiting = new Set<grpc.ServerDuplexStream<object, Buffer>>();
  let seen = 0;
  const server = new grpc.Server();
  const flush = (call: grpc.ServerDuplexStream<object, Buffer>): void => {
    while (queue.length) call.write(queue.shift()!);
  };
  server.addService(
    {
      sub: grpcMethod('/falco.outputs.service/sub', codec<object>(root, 'falco.outputs.request'), passThrough, 'both'),
    },
    {
      sub: (call: grpc.ServerDuplexStream<object, Buffer>) => {
        call.on('data', () => {
          seen++;
          // one drain per client request: what arrives later waits for the next request
          flush(call);
          waiting.add(call);
        });
        call.on('end', () => call.end());
        call.on('cancelled', () => waiting.delete(call));
      },
    },
  );
  server.addService(
    {
      version: grpcMethod(
        '/falco.version.service/version',
        codec<object>(root, 'falco.version.request'),
        codec<object>(root, 'falco.version.response'),
      ),
    },
    {
      version: (_c: unknown, cb: grpc.sendUnaryData<object>) =>
        cb(null, { version: '0.43.0', major: 0, minor: 43, engine_version: '0.52.0' }),
    },
  );
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync(grpcTarget(listen), serverCredentials(tls), (e, p) => (e ? rej(e) : res(p))),
  );
  return {
    address: listen.startsWith('unix') ? listen : listen.replace(/:0$/, `:${port}`),
    requests: [],
    requestsSeen: () => seen,
    send: (msgs) => queue.push(...msgs),
    kill: () => server.forceShutdown(),
    stop: () => stopServer(server),
  };
}

/** Graceful stop, forced after 500 ms (clients may still hold streams open). */
function stopServer(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 500);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
