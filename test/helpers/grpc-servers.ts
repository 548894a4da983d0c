import * as grpc from '@grpc/grpc-js';
import {
  codec,
  loadProtoRoot,
  passThrough,
  serverCredentials,
  grpcTarget,
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

/** A Tetragon-compatible server: GetEvents streams what `send` gets, to every subscriber. */
export async function tetragonServer(listen = '127.0.0.1:0', tls?: TlsFiles): Promise<FakeServer> {
  const req = codec<object>(root, 'tetragon.GetEventsRequest');
  const ver = codec<object>(root, 'tetragon.GetVersionResponse');
  const empty = codec<object>(root, 'tetragon.GetVersionRequest');
  const calls = new Set<grpc.ServerWritableStream<object, Buffer>>();
  const requests: unknown[] = [];
  const server = new grpc.Server();
  server.addService(
    {
      GetEvents: {
        path: '/tetragon.FineGuidanceSensors/GetEvents',
        requestStream: false,
        responseStream: true,
        requestSerialize: req.serialize,
        requestDeserialize: req.deserialize,
        responseSerialize: passThrough.serialize,
        responseDeserialize: passThrough.deserialize,
      },
      GetVersion: {
        path: '/tetragon.FineGuidanceSensors/GetVersion',
        requestStream: false,
        responseStream: false,
        requestSerialize: empty.serialize,
        requestDeserialize: empty.deserialize,
        responseSerialize: ver.serialize,
        responseDeserialize: ver.deserialize,
      },
    },
    {
      GetEvents: (call: grpc.ServerWritableStream<object, Buffer>) => {
        requests.push(call.request);
        calls.add(call);
        call.on('cancelled', () => calls.delete(call));
      },
      GetVersion: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { version: 'v1.7.0' }),
    },
  );
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

/**
 * A Peregrine sensor API server that streams whatever bytes `send` gets (well-formed batches or
 * not) to every subscriber and reports itself healthy: for feeding a sensor source hostile input.
 */
export async function rawSensorServer(listen = '127.0.0.1:0'): Promise<FakeServer> {
  const PKG = '/peregrine.sensor.v1.Sensor/';
  const req = codec<object>(root, 'peregrine.sensor.v1.SubscribeRequest');
  const empty = codec<object>(root, 'peregrine.sensor.v1.VersionRequest');
  const version = codec<object>(root, 'peregrine.sensor.v1.VersionResponse');
  const health = codec<object>(root, 'peregrine.sensor.v1.HealthResponse');
  const calls = new Set<grpc.ServerWritableStream<object, Buffer>>();
  const requests: unknown[] = [];
  const server = new grpc.Server();
  server.addService(
    {
      Subscribe: {
        path: `${PKG}Subscribe`,
        requestStream: false,
        responseStream: true,
        requestSerialize: req.serialize,
        requestDeserialize: req.deserialize,
        responseSerialize: passThrough.serialize,
        responseDeserialize: passThrough.deserialize,
      },
      GetVersion: {
        path: `${PKG}GetVersion`,
        requestStream: false,
        responseStream: false,
        requestSerialize: empty.serialize,
        requestDeserialize: empty.deserialize,
        responseSerialize: version.serialize,
        responseDeserialize: version.deserialize,
      },
      GetHealth: {
        path: `${PKG}GetHealth`,
        requestStream: false,
        responseStream: false,
        requestSerialize: empty.serialize,
        requestDeserialize: empty.deserialize,
        responseSerialize: health.serialize,
        responseDeserialize: health.deserialize,
      },
    },
    {
      Subscribe: (call: grpc.ServerWritableStream<object, Buffer>) => {
        requests.push(call.request);
        calls.add(call);
        call.on('cancelled', () => calls.delete(call));
      },
      GetVersion: (_c: unknown, cb: grpc.sendUnaryData<object>) =>
        cb(null, { version: 'raw', api_version: 1, backend: 'test' }),
      GetHealth: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { healthy: true, reason: '', stream_id: 1 }),
    },
  );
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync(grpcTarget(listen), serverCredentials(), (e, p) => (e ? rej(e) : res(p))),
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

/**
 * A Falco-compatible outputs server reproducing `sub`'s behaviour: after sending what is queued
 * it waits for the client's next (empty) request before sending more.
 */
export async function falcoServer(
  listen = '127.0.0.1:0',
  tls?: TlsFiles,
): Promise<FakeServer & { readonly requestsSeen: () => number }> {
  const req = codec<object>(root, 'falco.outputs.request');
  const vreq = codec<object>(root, 'falco.version.request');
  const vres = codec<object>(root, 'falco.version.response');
  const queue: Buffer[] = [];
  const waiting = new Set<grpc.ServerDuplexStream<object, Buffer>>();
  let seen = 0;
  const server = new grpc.Server();
  const flush = (call: grpc.ServerDuplexStream<object, Buffer>): void => {
    while (queue.length) call.write(queue.shift()!);
  };
  server.addService(
    {
      sub: {
        path: '/falco.outputs.service/sub',
        requestStream: true,
        responseStream: true,
        requestSerialize: req.serialize,
        requestDeserialize: req.deserialize,
        responseSerialize: passThrough.serialize,
        responseDeserialize: passThrough.deserialize,
      },
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
      version: {
        path: '/falco.version.service/version',
        requestStream: false,
        responseStream: false,
        requestSerialize: vreq.serialize,
        requestDeserialize: vreq.deserialize,
        responseSerialize: vres.serialize,
        responseDeserialize: vres.deserialize,
      },
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
