import type * as grpc from '@grpc/grpc-js';

/** A (de)serializer pair, as `codec` and `passThrough` make them. */
export interface Codec<T> {
  serialize(m: T): Buffer;
  deserialize(b: Buffer): T;
}

/**
 * One method of a gRPC service, from its full path (`/package.Service/Method`) and the codecs of
 * its request and response; `stream` says which side streams. For hand-built service definitions
 * (Peregrine serves pre-encoded messages, so responses are often {@link passThrough}).
 */
export function grpcMethod<Req, Res>(
  path: string,
  req: Codec<Req>,
  res: Codec<Res>,
  stream: 'none' | 'server' | 'client' | 'both' = 'none',
): grpc.MethodDefinition<Req, Res> {
  return {
    path,
    requestStream: stream === 'client' || stream === 'both',
    responseStream: stream === 'server' || stream === 'both',
    requestSerialize: (m: Req) => req.serialize(m),
    requestDeserialize: (b: Buffer) => req.deserialize(b),
    responseSerialize: (m: Res) => res.serialize(m),
    responseDeserialize: (b: Buffer) => res.deserialize(b),
  };
}
