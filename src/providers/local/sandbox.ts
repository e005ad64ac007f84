/**
 * The local provider's contact with the kernel: the layer filesystem, the isolation check, and running one
 * command inside an overlay root filesystem in fresh mount and PID namespaces.
 */
import { spawn, execFile } from 'node:child_process';
import { promises as fs, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ProviderTimeoutError, ServerError, UnsupportedError } from '../errors';
import type { ExecOptions, ExecResult } from '../provider';

const run = promisify(execFile);

/** Keep at most this much of each output stream (the tail). */
const MAX_OUTPUT_BYTES = 1024 * 1024;

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Says what this machine lacks to isolate commands, or nothing when it has everything. */
export function missingIsolation(): string | undefined {
  if (process.platform !== 'linux') return `the local provider needs Linux (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'the local provider needs root to mount overlay filesystems (run as root, or use SNAPBUILD_PROVIDER=morph)';
  }
  let filesystems = '';
  try {
    filesystems = readFileSync('/proc/filesystems', 'utf8');
  } catch {
    return 'cannot read /proc/filesystems to check for overlayfs';
  }
  if (!/\boverlay\b/.test(filesystems)) return 'the kernel has no overlayfs (try: modprobe overlay)';
  for (const tool of ['unshare', 'chroot', 'mount', 'flock', 'mountpoint']) {
    if (!findOnPath(tool)) return `the local provider needs \`${tool}\` (util-linux / coreutils) on PATH`;
  }
  return undefined;
}

function findOnPath(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? DEFAULT_PATH).split(':')) {
    const candidate = path.join(dir, tool);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/**
 * Returns the directory that holds layers and instances. Overlayfs refuses a stack in which one layer is an
 * ancestor of another, so when the store shares a filesystem with "/" (the default base), layers live on an
 * ext4 image file loop-mounted beside it. Creating and mounting are serialised across processes with flock.
 */
export async function ensureLayerFs(storeDir: string, imageSize: string): Promise<string> {
  await fs.mkdir(storeDir, { recursive: true });
  if ((await fs.stat(storeDir)).dev !== (await fs.stat('/')).dev) return storeDir;
  const mountDir = path.join(storeDir, 'fs');
  const image = path.join(storeDir, 'layers.img');
  await fs.mkdir(mountDir, { recursive: true });
  const script = `
    mountpoint -q "$1" && exit 0
    if [ ! -e "$2" ]; then
      rm -f "$2.tmp" && truncate -s "$3" "$2.tmp" &&
      mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 -L snapbuild "$2.tmp" && mv "$2.tmp" "$2" || exit 1
    fi
    mount -o loop,noatime "$2" "$1"`;
  try {
    await run('flock', [path.join(storeDir, '.mount.lock'), 'sh', '-c', script, 'snapbuild', mountDir, image, imageSize]);
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new UnsupportedError(`cannot mount the layer store image ${image} at ${mountDir}: ${stderr || (err as Error).message}`);
  }
  return mountDir;
}

/** What an exec needs to know about the instance's root filesystem, all paths relative to `layerRoot`. */
export interface OverlayStack {
  /** The directory holding every layer; relative lowerdir paths keep long stacks under the mount option limit. */
  layerRoot: string;
  /** Lower layers, topmost first; "/" (the host root) may be last. */
  lowers: string[];
  upper: string;
  work: string;
  merged: string;
}

// Runs as root inside fresh mount and PID namespaces. It mounts the instance's overlay, /proc, /dev and /sys,
// reports readiness on fd 3 (so a failed mount is never mistaken for a failed command), then chroots.
const EXEC_SCRIPT = `
set -e
cd "$1"
mount -t overlay overlay -o "lowerdir=$2,upperdir=$3,workdir=$4" "$5"
mount -t proc proc "$5/proc"
mount --rbind /dev "$5/dev"
mount -t sysfs -o ro sysfs "$5/sys" 2>/dev/null || true
echo ready >&3
exec 3>&-
exec chroot "$5" /bin/bash -c "$6"
`;

/**
 * Runs `command` with `bash -c` inside the overlay. Resolves with the exit code and output tails; a failure
 * to set up the sandbox, a timeout or an abort rejects instead.
 */
export function execInOverlay(stack: OverlayStack, command: string, options: ExecOptions & { onPid?: (pid: number) => void } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const env = {
      PATH: DEFAULT_PATH,
      HOME: '/root',
      LANG: 'C.UTF-8',
      TERM: 'dumb',
      DEBIAN_FRONTEND: 'noninteractive',
      ...options.env,
    };
    const child = spawn(
      'unshare',
      ['--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', '--', '/bin/bash', '-c', EXEC_SCRIPT, 'snapbuild-exec',
        stack.layerRoot, stack.lowers.join(':'), stack.upper, stack.work, stack.merged, command],
      { env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true },
    );
    if (child.pid) options.onPid?.(child.pid);
    const out = { stdout: new Tail(), stderr: new Tail() };
    let ready = false;
    let ended: Error | undefined;
    const kill = (why: Error) => {
      ended ??= why;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = options.timeoutMs ? setTimeout(() => kill(new ProviderTimeoutError(`command timed out after ${options.timeoutMs} ms`)), options.timeoutMs) : undefined;
    const onAbort = () => kill(abortError(options.signal));
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdio[3]!.on('data', () => (ready = true));
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream]!.on('data', (chunk: Buffer) => {
        out[stream].push(chunk);
        options.onOutput?.(chunk.toString('utf8'), stream);
      });
    }
    child.on('error', (err) => kill(new UnsupportedError(`cannot run unshare: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      const result = { exitCode: code ?? 128 + (signal ? 9 : 0), stdout: out.stdout.text(), stderr: out.stderr.text() };
      if (ended) return reject(ended);
      if (!ready) {
        return reject(new ServerError(`local sandbox setup failed: ${result.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${code}`}`, false));
      }
      resolve(result);
    });
  });
}

function abortError(signal?: AbortSignal): Error {
  const reason = signal?.reason;
  if (reason instanceof Error) return reason;
  const err = new Error(typeof reason === 'string' ? reason : 'command aborted');
  err.name = 'AbortError';
  return err;
}

/** Keeps the last MAX_OUTPUT_BYTES of a stream. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - this.chunks[0].length >= MAX_OUTPUT_BYTES) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - MAX_OUTPUT_BYTES)).toString('utf8');
  }
}

/** Kills a process group left by an exec of another process (best effort). */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/**
 * The host base image: two tiny layers above "/" that give the instance its own empty /tmp, /var/tmp and /run
 * (a whiteout hides the host's, an empty directory takes its place) so host scratch files never show through.
 */
export async function ensureHostBase(layerRoot: string): Promise<string[]> {
  const mask = path.join(layerRoot, 'base', 'host-mask');
  const dirs = path.join(layerRoot, 'base', 'host-dirs');
  const done = path.join(layerRoot, 'base', 'host.ok');
  try {
    await fs.access(done);
  } catch {
    const script = `
      rm -rf "$1" "$2" && mkdir -p "$1/var" "$2/var/tmp" "$2/tmp" "$2/run" &&
      mknod "$1/tmp" c 0 0 && mknod "$1/var/tmp" c 0 0 && mknod "$1/run" c 0 0 &&
      chmod 1777 "$2/tmp" "$2/var/tmp" && touch "$3"`;
    await fs.mkdir(path.dirname(mask), { recursive: true });
    await run('flock', [path.join(layerRoot, 'base', '.lock'), 'sh', '-c', `[ -e "$3" ] || { ${script}; }`, 'snapbuild', mask, dirs, done]);
  }
  return ['base/host-dirs', 'base/host-mask', '/'];
}
