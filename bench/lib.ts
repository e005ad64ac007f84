/**
 * Shared infrastructure of the benchmark harness: cleanup that runs even on failure, throw-away local stores,
 * one in-memory Temporal dev server with a worker, statistics and the shape of a result.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { resolveTemporalCli, startDevServer } from '../src/config/devserver';
import { LocalProvider } from '../src/providers/local';
import type { Provider } from '../src/providers/provider';
import { createWorker } from '../src/worker';

// ---- cleanup ---------------------------------------------------------------------------------------------------

/** Undo actions, run last-in first-out, each at most once, every one attempted even when another fails. */
export class Cleanup {
  private readonly tasks: { name: string; fn: () => Promise<void> | void }[] = [];
  private running?: Promise<void>;

  add(name: string, fn: () => Promise<void> | void): void {
    this.tasks.push({ name, fn });
  }

  run(): Promise<void> {
    return (this.running ??= (async () => {
      while (this.tasks.length) {
        const task = this.tasks.pop()!;
        try {
          await withTimeout(Promise.resolve(task.fn()), 30_000, `cleanup: ${task.name}`);
        } catch (err) {
          console.error(`bench: cleanup of ${task.name} failed: ${(err as Error).message}`);
        }
      }
    })());
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// ---- stores ----------------------------------------------------------------------------------------------------

export interface BenchStore {
  dir: string;
  provider: LocalProvider;
}

/**
 * A throw-away local store on its own loop-mounted 8G sparse image under /tmp (as test/helpers/store.ts makes
 * them). Its removal is registered before it is opened, so a failure half-way still unmounts and deletes it.
 */
export async function openStore(cleanup: Cleanup, label: string): Promise<BenchStore> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `snapbuild-bench-${label}-`));
  let provider: LocalProvider | undefined;
  cleanup.add(`store ${dir}`, async () => {
    if (provider) {
      await provider.close();
      for (const inst of await provider.listInstances().catch(() => [])) await provider.stopInstance(inst.id).catch(() => undefined);
    }
    const mountDir = provider?.layerRoot ?? path.join(dir, 'fs');
    if (mountDir !== dir && existsSync(mountDir)) {
      try {
        execFileSync('mountpoint', ['-q', mountDir]);
        execFileSync('umount', ['-l', mountDir]);
      } catch {
        /* not mounted */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  provider = await LocalProvider.open({ storeDir: dir, imageSize: '8G' });
  return { dir, provider };
}

// ---- Temporal --------------------------------------------------------------------------------------------------

const DYNAMIC_CONFIG = /^[A-Za-z0-9_.]+=[A-Za-z0-9_.:-]+$/;

export interface BenchTemporal {
  address: string;
  /** The dev server's process id, for CPU accounting. */
  serverPid: number;
  namespace: string;
  client: Client;
  nativeConnection: NativeConnection;
}

/**
 * An in-memory dev server (no dbFile) plus a client connection and a native connection for workers.
 * `extraDynamicConfig` (KEY=VALUE, for what-if runs only) is appended to the server's arguments through a
 * wrapper script passed to startDevServer as the CLI, so the start-up path stays the product's own.
 */
export async function startTemporal(cleanup: Cleanup, log: (line: string) => void, extraDynamicConfig: readonly string[] = []): Promise<BenchTemporal> {
  const config = loadConfig();
  const realCli = await resolveTemporalCli({ explicit: config.temporalCli, cacheDir: config.cacheDir, log });
  if (!realCli) throw new Error('no Temporal CLI: install Go, put `temporal` on PATH, or set SNAPBUILD_TEMPORAL_CLI');
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'snapbuild-bench-temporal-'));
  cleanup.add(`dev server log ${logDir}`, () => rmSync(logDir, { recursive: true, force: true }));
  let cli = realCli;
  if (extraDynamicConfig.length) {
    for (const kv of extraDynamicConfig) if (!DYNAMIC_CONFIG.test(kv)) throw new Error(`--dev-server-config ${kv}: expected KEY=VALUE (letters, digits, . _ : -)`);
    cli = path.join(logDir, 'temporal-wrapper.sh');
    const extra = extraDynamicConfig.map((kv) => ` --dynamic-config-value '${kv}'`).join('');
    writeFileSync(cli, `#!/bin/sh\nexec '${realCli.replace(/'/g, `'\\''`)}' "$@"${extra}\n`, { mode: 0o755 });
  }
  const server = await startDevServer({ cli, logFile: path.join(logDir, 'server.log') });
  cleanup.add('Temporal dev server', () => server.stop());
  const connection = await Connection.connect({ address: server.address });
  cleanup.add('client connection', () => connection.close());
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  cleanup.add('worker connection', () => nativeConnection.close());
  return { address: server.address, serverPid: server.pid, namespace: server.namespace, client: new Client({ connection, namespace: server.namespace }), nativeConnection };
}

export interface BenchWorker {
  worker: Worker;
  taskQueue: string;
}

/** A worker over `provider` on a fresh task queue, running in this process until cleanup. */
export async function startWorker(
  cleanup: Cleanup,
  temporal: BenchTemporal,
  provider: Provider,
  workflowBundle: WorkflowBundleWithSourceMap,
): Promise<BenchWorker> {
  const taskQueue = `bench-${randomUUID()}`;
  const worker = await createWorker({ connection: temporal.nativeConnection, namespace: temporal.namespace, taskQueue, provider, workflowBundle, shutdownSignals: [] });
  const running = worker.run();
  running.catch((err) => console.error(`bench: worker failed: ${(err as Error).message}`));
  cleanup.add(`worker ${taskQueue}`, async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined);
  });
  return { worker, taskQueue };
}

// ---- measurement -----------------------------------------------------------------------------------------------

/** Unique per call, so no two recipes share a layer by accident. */
export const marker = (): string => `m${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function summary(values: readonly number[]): { median: number; min: number; max: number; n: number; values: number[] } {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length, values: values.map((v) => round(v)) };
}

export const round = (x: number, digits = 2): number => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x);

/**
 * Runs A and B `repeats` times, alternating which goes first (A,B then B,A ...), so drift on a noisy machine
 * hits both sides alike. Each call gets its repeat number.
 */
export async function alternate<A, B>(repeats: number, a: (i: number) => Promise<A>, b: (i: number) => Promise<B>): Promise<{ a: A[]; b: B[] }> {
  const out = { a: [] as A[], b: [] as B[] };
  for (let i = 0; i < repeats; i++) {
    if (i % 2 === 0) {
      out.a.push(await a(i));
      out.b.push(await b(i));
    } else {
      out.b.push(await b(i));
      out.a.push(await a(i));
    }
  }
  return out;
}

// ---- results ---------------------------------------------------------------------------------------------------

/** One line of the summary table. A check with a target is counted in the final tally; others only inform. */
export interface Line {
  row: string;
  measure: string;
  snapbuild: string;
  baseline: string;
  result: string;
  target?: string;
  /** Whether the target is met (undefined: informational). */
  met?: boolean;
  /** Quick mode: missed by a wide margin (the process then exits non-zero). */
  wideMiss?: boolean;
  /** Why a quick-mode wide miss is declared, e.g. "ratio > 2.2". */
  wideRule?: string;
}

export interface RowResult {
  id: string;
  title: string;
  lines: Line[];
  /** Everything measured, raw samples included, for the JSON file. */
  data: Record<string, unknown>;
  wallMs?: number;
}

export interface Ctx {
  quick: boolean;
  cleanup: Cleanup;
  temporal: BenchTemporal;
  workflowBundle: WorkflowBundleWithSourceMap;
  log: (line: string) => void;
}

export const ms = (x: number): string => (Number.isFinite(x) ? `${x >= 100 ? Math.round(x) : round(x, 1)} ms` : String(x));
export const x = (r: number): string => (Number.isFinite(r) ? `${round(r, r >= 10 ? 1 : 2)}x` : String(r));
export const bytes = (b: number): string => (b >= 1e6 ? `${round(b / 1e6, 3)} MB` : b >= 1e3 ? `${round(b / 1e3, 1)} kB` : `${b} B`);

// ---- CPU accounting -----------------------------------------------------------------------------------------

/** CPU milliseconds used so far by this process (all threads: JS, workflow threads, Temporal core), by its
 * finished children (every sandboxed command: unshare, mount, bash), and by the dev server. */
export interface Cpu {
  self: number;
  children: number;
  server: number;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime, stime, cutime, cstime of a process, in milliseconds (from /proc/<pid>/stat). */
function procTimes(pid: number | 'self'): number[] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const tick = 1000 / ticksPerSecond();
    return [11, 12, 13, 14].map((i) => Number(fields[i]) * tick);
  } catch {
    return [NaN, NaN, NaN, NaN];
  }
}

export function cpuNow(serverPid?: number): Cpu {
  const [u, s, cu, cs] = procTimes('self');
  const server = serverPid ? procTimes(serverPid) : [0, 0];
  return { self: u + s, children: cu + cs, server: server[0] + server[1] };
}

export function cpuSince(before: Cpu, serverPid?: number): Cpu & { total: number } {
  const now = cpuNow(serverPid);
  const d = { self: now.self - before.self, children: now.children - before.children, server: now.server - before.server };
  return { ...d, total: d.self + d.children + d.server };
}

/** Runs `fn`, returning its wall time and the CPU it cost (this process, its children, the dev server). */
export async function metered<T>(serverPid: number | undefined, fn: () => Promise<T>): Promise<{ ms: number; cpu: Cpu & { total: number }; value: T }> {
  const c0 = cpuNow(serverPid);
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, cpu: cpuSince(c0, serverPid), value };
}

/** Median CPU per unit (e.g. per step) of several metered runs, by component. */
export function cpuPer(runs: readonly { cpu: Cpu & { total: number } }[], units: number): Cpu & { total: number } {
  const m = (k: keyof Cpu | 'total') => round(median(runs.map((r) => r.cpu[k] / units)), 1);
  return { self: m('self'), children: m('children'), server: m('server'), total: m('total') };
}

export const cpuText = (c: Cpu & { total: number }): string => `${round(c.total, 0)} ms (node ${round(c.self, 0)}, cmds ${round(c.children, 0)}, server ${round(c.server, 0)})`;
