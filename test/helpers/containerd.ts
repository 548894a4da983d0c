/**
 * A private, real containerd (Debian's 1.6, CRI plugin, runc, CNI bridge) for tests: its own root,
 * state, socket and CNI config under a temp directory, so it never touches a containerd the
 * machine may run. Images cannot be pulled here: a busybox image is built with umoci and imported
 * under the pause image's name and a workload name. Pods are created through CRI as kubelet does
 * (kubelet's labels, a `/kubepods/besteffort/pod<uid>` cgroup parent).
 *
 * Machine facts this relies on (docs/architecture.md, issue 13): no CAP_SYS_RESOURCE (so
 * `restrict_oom_score_adj`), cgroup v1 without systemd (cgroupfs driver), CNI plugins in
 * /usr/lib/cni, a link-local bridge without gateway or masquerade.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriClient } from '../../src/enrich/index.js';
import { until } from './wait.js';

export const PAUSE_IMAGE = 'peregrine.test/pause:1';
export const BUSYBOX_IMAGE = 'peregrine.test/busybox:1';

/** What a pod needs: kubelet's view of it. */
export interface PodSpec {
  readonly name: string;
  readonly namespace: string;
  readonly uid?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly container?: string;
  readonly command?: readonly string[];
  readonly privileged?: boolean;
  /** Host paths mounted into the container. */
  readonly mounts?: ReadonlyArray<{
    readonly hostPath: string;
    readonly containerPath: string;
    readonly readonly?: boolean;
  }>;
}

export interface RunningPod {
  readonly podId: string;
  readonly containerId: string;
  readonly uid: string;
}

export interface TestContainerd {
  readonly socket: string;
  readonly cri: CriClient;
  readonly dir: string;
  runPod(spec: PodSpec): Promise<RunningPod>;
  removePod(podId: string): Promise<void>;
  /** Kills containerd (SIGKILL) and starts it again on the same state (pods keep running under their shims). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Fails with what to do when a tool is missing (scripts/setup installs them). */
function need(tool: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    throw new Error(
      `${tool} is not installed: run scripts/setup (it installs containerd, runc, containernetworking-plugins, busybox-static, umoci)`,
    );
  }
}

/** Builds the busybox image (OCI layout tar) once per directory. */
function buildImage(dir: string): string {
  const layout = join(dir, 'image');
  const tar = join(dir, 'image.tar');
  if (existsSync(tar)) return tar;
  execFileSync('umoci', ['init', '--layout', layout]);
  execFileSync('umoci', ['new', '--image', `${layout}:1`]);
  const bundle = join(dir, 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${layout}:1`, bundle], { stdio: 'ignore' });
  const rootfs = join(bundle, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  for (const c of ['sh', 'cat', 'sleep', 'ls', 'true']) symlinkSync('busybox', join(rootfs, 'bin', c));
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n');
  execFileSync('umoci', ['repack', '--image', `${layout}:1`, bundle]);
  execFileSync('umoci', ['config', '--image', `${layout}:1`, '--config.cmd', '/bin/sleep', '--config.cmd', '3600']);
  execFileSync('tar', ['-C', layout, '-cf', tar, '.']);
  return tar;
}

function config(dir: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni"
`;
}

/** Starts a private containerd and imports the test images. */
export async function startContainerd(): Promise<TestContainerd> {
  for (const t of ['containerd', 'ctr', 'runc', 'umoci', 'busybox']) need(t);
  if (!existsSync('/usr/lib/cni/bridge'))
    throw new Error('CNI plugins missing in /usr/lib/cni: run scripts/setup (containernetworking-plugins)');
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-containerd-'));
  mkdirSync(join(dir, 'cni'));
  const bridge = `pg${dir
    .slice(-6)
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()}`.slice(0, 15);
  const subnet = 100 + Math.floor(Math.random() * 100);
  writeFileSync(
    join(dir, 'cni', '10-peregrine-test.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'peregrine-test',
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: false,
          ipMasq: false,
          ipam: { type: 'host-local', ranges: [[{ subnet: `169.254.${subnet}.0/24` }]], dataDir: join(dir, 'ipam') },
        },
        { type: 'loopback' },
      ],
    }),
  );
  writeFileSync(join(dir, 'config.toml'), config(dir));
  const socket = join(dir, 'containerd.sock');
  let child: ChildProcess | undefined;
  let log = '';
  const launch = async (): Promise<void> => {
    rmSync(socket, { force: true });
    child = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-20_000)));
    await until(() => existsSync(socket) || child!.exitCode !== null, 20_000);
    if (child.exitCode !== null) throw new Error(`containerd exited ${child.exitCode}:\n${log}`);
  };
  await launch();
  const tar = buildImage(dir);
  for (const name of ['peregrine.test/pause', 'peregrine.test/busybox']) {
    execFileSync('ctr', ['-a', socket, '-n', 'k8s.io', 'images', 'import', '--base-name', name, tar], {
      stdio: 'ignore',
    });
  }
  // Test pods get a long deadline: on a fresh 2-core machine under a parallel suite, the first
  // sandboxes pay for kernel modules (bridge, veth) and CNI set-up; 5 s was seen to run out in CI.
  const cri = new CriClient(socket, 45_000);
  const pods = new Set<string>();
  // one sandbox made and removed here, so the first-time costs land in the caller's beforeAll
  const warmUid = randomUUID();
  const warm = await cri
    .runPodSandbox({
      metadata: { name: 'warm-up', uid: warmUid, namespace: 'peregrine-test', attempt: 0 },
      linux: { cgroup_parent: `/kubepods/besteffort/pod${warmUid}` },
    })
    .catch((err: unknown) => {
      throw new Error(`${String(err)}\ncontainerd's log (tail):\n${log.slice(-4_000)}`);
    });
  await cri.stopPodSandbox(warm);
  await cri.removePodSandbox(warm);
  const removePod = async (podId: string): Promise<void> => {
    await cri.stopPodSandbox(podId);
    await cri.removePodSandbox(podId);
    pods.delete(podId);
  };
  return {
    socket,
    cri,
    dir,
    async runPod(spec) {
      const uid = spec.uid ?? randomUUID();
      const sandboxConfig = {
        metadata: { name: spec.name, uid, namespace: spec.namespace, attempt: 0 },
        hostname: spec.name,
        log_directory: join(dir, 'logs', `${spec.namespace}_${spec.name}_${uid}`),
        labels: {
          ...spec.labels,
          'io.kubernetes.pod.name': spec.name,
          'io.kubernetes.pod.namespace': spec.namespace,
          'io.kubernetes.pod.uid': uid,
        },
        annotations: { 'kubernetes.io/config.source': 'api' },
        linux: {
          cgroup_parent: `/kubepods/besteffort/pod${uid}`,
          security_context: { privileged: spec.privileged ?? false },
        },
      };
      const podId = await cri.runPodSandbox(sandboxConfig).catch((err: unknown) => {
        throw new Error(`${String(err)}\ncontainerd's log (tail):\n${log.slice(-4_000)}`);
      });
      pods.add(podId);
      const name = spec.container ?? 'main';
      const containerId = await cri.createContainer(
        podId,
        {
          metadata: { name, attempt: 0 },
          image: { image: BUSYBOX_IMAGE },
          command: spec.command ?? ['/bin/sleep', '3600'],
          labels: {
            'io.kubernetes.container.name': name,
            'io.kubernetes.pod.name': spec.name,
            'io.kubernetes.pod.namespace': spec.namespace,
            'io.kubernetes.pod.uid': uid,
          },
          log_path: `${name}/0.log`,
          mounts: (spec.mounts ?? []).map((m) => ({
            host_path: m.hostPath,
            container_path: m.containerPath,
            readonly: m.readonly ?? false,
          })),
          linux: { security_context: { privileged: spec.privileged ?? false } },
        },
        sandboxConfig,
      );
      await cri.startContainer(containerId);
      return { podId, containerId, uid };
    },
    removePod,
    async restart() {
      child?.kill('SIGKILL');
      await new Promise((r) =>
        child!.exitCode === null && child!.signalCode === null ? child!.once('exit', r) : r(null),
      );
      await launch();
      // the CRI plugin answers "server is not initialized yet" for a moment after the socket appears
      const end = Date.now() + 30_000;
      for (;;) {
        try {
          await cri.listPodSandboxes();
          break;
        } catch (err) {
          if (Date.now() > end) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async stop() {
      for (const p of [...pods]) await removePod(p).catch(() => undefined);
      cri.close();
      if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child!.once('exit', r));
      }
      // shims of pods that did not stop, then the state (mounts first)
      // ([c] keeps pkill from matching this shell's own command line)
      execFileSync('sh', [
        '-c',
        `pkill -f '[c]ontainerd-shim-runc-v2 -namespace k8s.io -address ${socket}'; grep ' ${dir}/' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l; true`,
      ]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
