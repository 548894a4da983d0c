import { octalMode, ptraceRequest, socketDomain } from './syscall-args.js';

/**
 * Falco's `evt.arg.*` for a call, from its raw arguments: per syscall, how they are named and
 * rendered (flag names, octal modes, resolved paths). Table-driven: {@link ARG_MAPPERS}.
 */

/** What an argument mapper gets: the call, its raw arguments, the params to fill, and path resolution. */
export interface ArgContext {
  readonly sc: string;
  readonly raw: Readonly<Record<string, string>>;
  readonly params: Record<string, string>;
  /** The path argument `k`, resolved against directory fd argument `dir` (or the cwd). */
  readonly path: (k?: string, dir?: string) => string;
}

/** Raw arguments that mappers turn into resolved paths or other names (not copied as they are). */
export const RESOLVED_ARGS: ReadonlySet<string> = new Set(['path', 'tpid', 'dirfd', 'newdirfd', 'olddirfd']);

const mapExec = ({ params, path }: ArgContext): void => void (params.filename = path());
const mapLink = ({ params, path }: ArgContext): void => {
  params.oldpath = path('oldpath', 'olddirfd');
  params.newpath = path('newpath', 'newdirfd');
};
const mapSymlink = ({ raw, params, path }: ArgContext): void => {
  params.target = raw.target;
  params.linkpath = path('linkpath', 'newdirfd');
};
const mapRemove = ({ params, path }: ArgContext): void => {
  params.name = path();
  params.path = params.name;
};
const mapMkdir = ({ raw, params, path }: ArgContext): void => {
  params.path = path();
  params.mode = octalMode(Number(raw.mode));
};
const mapChmod = ({ raw, params, path }: ArgContext): void => {
  params.filename = path();
  params.mode = octalMode(Number(raw.mode));
};

/** Per syscall, how its raw arguments become Falco's `evt.arg.*` (opens: {@link mapOpen}); others are copied. */
export const ARG_MAPPERS: Readonly<Record<string, (c: ArgContext) => void>> = {
  execve: mapExec,
  execveat: mapExec,
  ptrace: ({ raw, params }) => {
    params.request = ptraceRequest(Number(raw.request));
    params.pid = raw.tpid;
  },
  socket: ({ raw, params }) => {
    params.domain = socketDomain(Number(raw.domain));
    params.type = raw.type;
    params.proto = raw.proto;
  },
  symlink: mapSymlink,
  symlinkat: mapSymlink,
  link: mapLink,
  linkat: mapLink,
  rename: mapLink,
  renameat: mapLink,
  renameat2: mapLink,
  unlink: mapRemove,
  unlinkat: mapRemove,
  rmdir: mapRemove,
  mkdir: mapMkdir,
  mkdirat: mapMkdir,
  chmod: mapChmod,
  fchmodat: mapChmod,
};
