/**
 * The embedded Temporal dev server: finding a binary (explicit path, PATH, cache, `go install`, the SDK's
 * download) and running `temporal server start-dev` with its state on disk.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, promises as fs, readFileSync, statSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';

const run = promisify(execFile);

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;

export type Log = (line: string) => void;

export interface DevServer {
  address: string;
  namespace: string;
  stop(opts?: { wait?: boolean }): Promise<void>;
}

/** Where a `go install`ed Temporal CLI is cached. */
export function cachedCliPath(cacheDir: string): string {
  return path.join(cacheDir, 'bin', `temporal-${TEMPORAL_CLI_VERSION}`, 'temporal');
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isFile(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/**
 * Finds a Temporal CLI: an explicit path, then `temporal` on PATH, then the cache, then builds one with
 * `go install` when Go is present. Returns undefined when none can be had (the caller falls back to the SDK's
 * download).
 */
export async function resolveTemporalCli(opts: { explicit?: string; cacheDir: string; log: Log }): Promise<string | undefined> {
  if (opts.explicit) {
    if (!isFile(opts.explicit)) throw new Error(`SNAPBUILD_TEMPORAL_CLI=${opts.explicit} does not exist`);
    return opts.explicit;
  }
  const found = onPath('temporal');
  if (found) return found;
  const cached = cachedCliPath(opts.cacheDir);
  if (isFile(cached)) return cached;
  const go = onPath('go') ?? (isFile('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) return undefined;
  opts.log(`Compiling the Temporal dev server (go install ${GO_PACKAGE}) into ${path.dirname(cached)}.`);
  opts.log('This happens once per machine and takes 2 to 10 minutes on 2 cores; later runs reuse it.');
  const started = Date.now();
  const tmpBin = `${path.dirname(cached)}.tmp-${process.pid}`;
  await fs.mkdir(tmpBin, { recursive: true });
  const ticker = setInterval(() => opts.log(`  ...still compiling (${Math.round((Date.now() - started) / 1000)}s)`), 30_000);
  try {
    await run(go, ['install', '-trimpath', GO_PACKAGE], { env: { ...process.env, GOBIN: tmpBin, GOFLAGS: '' }, maxBuffer: 64 * 1024 * 1024 });
    await fs.mkdir(path.dirname(cached), { recursive: true });
    await fs.rename(path.join(tmpBin, 'temporal'), cached);
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    throw new Error(`go install ${GO_PACKAGE} failed: ${stderr || (err as Error).message}`);
  } finally {
    clearInterval(ticker);
    await fs.rm(tmpBin, { recursive: true, force: true });
  }
  opts.log(`Temporal dev server compiled in ${Math.round((Date.now() - started) / 1000)}s.`);
  return cached;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `temporal server start-dev` on a free loopback port and waits until it answers. With `dbFile`, the
 * server keeps workflows and schedules on disk between runs; without it, everything is in memory.
 */
/** Resolves once something accepts TCP connections on the port (a refused connect answers at once). */
async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface StartDevServerOptions {
  cli: string;
  /** Keep state in this SQLite file; without it everything is in memory. */
  dbFile?: string;
  /** Write the server's own log here (it outlives this process while it shuts down, so never a pipe). */
  logFile?: string;
  namespace?: string;
  /** A fixed port (a restart that clients should find again); a free one by default. */
  port?: number;
  startTimeoutMs?: number;
}

/**
 * Starts `temporal server start-dev` on a free loopback port and waits until it answers. With `dbFile`, the
 * server keeps workflows and schedules on disk between runs; without it, everything is in memory.
 */
export async function startDevServer(opts: StartDevServerOptions): Promise<DevServer & { pid: number }> {
  const port = opts.port ?? (await freePort());
  const namespace = opts.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', namespace, '--headless', '--log-level', 'error',
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true',
    // The default (20) makes every hand-off between short activities wait ~40 ms for the transfer queue; builds
    // of quick steps were 3-6x slower with it (BENCHMARKS.md, row 1).
    '--dynamic-config-value', 'history.transferProcessorMaxPollRPS=1000'];
  if (opts.dbFile) {
    await fs.mkdir(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  const logFd = opts.logFile ? openSync(opts.logFile, 'a') : 'ignore';
  // Its own process group: a Ctrl-C in the terminal reaches the CLI (which cancels the build and cleans up
  // through this server) but not the server itself. It is killed if this process exits without stopping it.
  const child: ChildProcess = spawn(opts.cli, args, { stdio: ['ignore', 'ignore', logFd], detached: true });
  if (typeof logFd === 'number') closeSync(logFd);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let running = true;
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  void exited.then(() => (running = false));
  const address = `127.0.0.1:${port}`;
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const logTail = () => (opts.logFile ? readTail(opts.logFile) : '');
  for (;;) {
    if (!running) throw new Error(`the Temporal dev server exited during start-up${opts.logFile ? `: ${logTail() || 'see ' + opts.logFile}` : ''}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the Temporal dev server did not answer on ${address} within ${timeoutMs} ms${opts.logFile ? ` (log: ${opts.logFile})` : ''}`);
    }
    if (await portOpen(port)) {
      try {
        const conn = await Connection.connect({ address, connectTimeout: 2000 });
        try {
          await conn.workflowService.describeNamespace({ namespace });
          break;
        } finally {
          await conn.close();
        }
      } catch {
        /* listening, but not serving yet */
      }
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    address,
    namespace,
    pid: child.pid!,
    /**
     * Asks the server to shut down. With `wait: false` it finishes shutting down on its own after this process
     * has gone (about a second); the caller must then not reuse its database until the pid has exited.
     */
    async stop({ wait = true }: { wait?: boolean } = {}) {
      process.off('exit', killOnExit);
      if (!running) return;
      child.kill('SIGTERM');
      if (!wait) {
        child.unref();
        return;
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '';
  }
}
