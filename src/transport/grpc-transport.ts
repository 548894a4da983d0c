import * as grpc from '@grpc/grpc-js';

/**
 * TLS material from files. Files are watched: a changed certificate, key or CA is picked up
 * without a restart. Client: `ca` verifies the server; `cert`+`key` enable mutual TLS.
 * Server: `cert`+`key` identify it; `ca` makes it require and verify client certificates.
 */
export interface TlsFiles {
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
  /** Name expected in the server's certificate when it differs from the address's host. */
  readonly serverName?: string;
}

/** How often certificate files are re-read. */
export const CERT_REFRESH_MS = 2_000;

/** Channel options every Peregrine gRPC client uses: keepalive and large messages. */
export function clientChannelOptions(tls?: TlsFiles): grpc.ChannelOptions {
  return {
    'grpc.keepalive_time_ms': 20_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    // A large HTTP/2 window: batches are tens of KB, and the 64 KB default stalls the stream on round trips.
    'grpc-node.flow_control_window': 8 * 1024 * 1024,
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 5_000,
    ...(tls?.serverName
      ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName }
      : {}),
  };
}

/** Client credentials: insecure without `tls`, TLS or mutual TLS from watched files with it. */
export function clientCredentials(tls?: TlsFiles): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  const ca = new grpc.experimental.FileWatcherCertificateProvider({
    caCertificateFile: tls.ca,
    refreshIntervalMs: CERT_REFRESH_MS,
  });
  const identity =
    tls.cert && tls.key
      ? new grpc.experimental.FileWatcherCertificateProvider({
          certificateFile: tls.cert,
          privateKeyFile: tls.key,
          refreshIntervalMs: CERT_REFRESH_MS,
        })
      : null;
  if (!tls.ca) {
    // No CA file: verify against the system roots.
    if (identity) throw new Error('tls: a client certificate needs a ca file too (give tls.ca)');
    return grpc.credentials.createSsl();
  }
  return grpc.experimental.createCertificateProviderChannelCredentials(ca, identity);
}

/** Server credentials: insecure without `tls`; TLS, and mutual TLS when `ca` is given. */
export function serverCredentials(tls?: TlsFiles): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  if (!tls.cert || !tls.key) throw new Error('tls: a server needs cert and key files');
  const identity = new grpc.experimental.FileWatcherCertificateProvider({
    certificateFile: tls.cert,
    privateKeyFile: tls.key,
    refreshIntervalMs: CERT_REFRESH_MS,
  });
  const ca = tls.ca
    ? new grpc.experimental.FileWatcherCertificateProvider({
        caCertificateFile: tls.ca,
        refreshIntervalMs: CERT_REFRESH_MS,
      })
    : null;
  // grpc-js takes (identity, ca, requireClientCert) here despite its declared parameter names.
  return grpc.experimental.createCertificateProviderServerCredentials(identity, ca, ca !== null);
}

/**
 * Normalises an address for grpc-js: `unix:///run/x.sock`, `unix:/run/x.sock`, `host:port`,
 * `[::1]:port`. Throws on an empty address.
 */
export function grpcTarget(address: string): string {
  const a = address.trim();
  if (!a) throw new Error('empty address');
  if (a.startsWith('unix://')) return `unix:${a.slice('unix://'.length)}`;
  return a;
}

/** The filesystem path of a unix-socket address (`unix:///run/x.sock`, `unix:/run/x.sock`); undefined for host:port. */
export function unixSocketPath(address: string): string | undefined {
  const t = grpcTarget(address);
  return t.startsWith('unix:') ? t.slice('unix:'.length) : undefined;
}

/** Identity (de)serializer for pre-encoded messages. */
export const passThrough = {
  serialize: (b: Buffer): Buffer => b,
  deserialize: (b: Buffer): Buffer => b,
};
