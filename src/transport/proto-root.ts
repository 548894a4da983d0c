import protobuf from 'protobufjs';
import { resolve } from 'node:path';
import { PROTO_DIR } from '../defaults.js';

const FILES = [
  'peregrine/sensor/v1/sensor.proto',
  'tetragon/tetragon_events.proto',
  'falco/falco_outputs.proto',
  'falco/falco_version.proto',
  'cri/runtime-v1.proto',
  'containerd/events-v1.proto',
];

/** Loads every `.proto` Peregrine speaks (from `proto/`); google/protobuf types are built in. */
export function loadProtoRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : resolve(PROTO_DIR, target));
  root.loadSync(FILES, { keepCase: true });
  root.resolveAll();
  return root;
}

/** A protobufjs message type as a grpc-js (de)serializer pair over plain objects. */
export function codec<T extends object>(
  root: protobuf.Root,
  typeName: string,
): { serialize: (m: T) => Buffer; deserialize: (b: Buffer) => T } {
  const type = root.lookupType(typeName);
  return {
    serialize: (m) => Buffer.from(type.encode(type.fromObject(m)).finish()),
    deserialize: (b) =>
      type.toObject(type.decode(b), { longs: String, enums: String, defaults: true, arrays: true, objects: true }) as T,
  };
}
