/** Shared by the chaos suites: bounded CLI runs, throw-away homes, a small concurrency limit, log capture. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import type { Provider } from '../../src/providers/provider';
import { spawnSnapbuild, type CliRun } from '../helpers/cli';
import { startTestWorker, type TestTemporal } from '../helpers/temporal';

export interface TimedRun extends CliRun {
  ms: number;
  /** The CLI was still running after the time limit and was killed. */
  timedOut: boolean;
}

/**
 * Runs the CLI (as test/helpers/cli.ts does) but kills it after `limitMs`, so that a hang is a clear test
 * failure with the evidence instead of a stuck suite and a stray process.
 */
export function snapbuildWithin(limitMs: number, args: string[], env: NodeJS.ProcessEnv): Promise<TimedRun> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawnSnapbuild(args, env);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started, timedOut });
    });
  });
}

/** Runs at most `n` tasks at once, in the order they were queued; `setLimit` changes `n`. */
export function limiter(n: number) {
  let limit = n;
  let active = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    while (active < limit && queue.length > 0) {
      active++;
      queue.shift()!();
    }
  };
  const run = <T>(task: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push(() =>
        task()
          .then(resolve, reject)
          .finally(() => {
            active--;
            next();
          }),
      );
      next();
    });
  return Object.assign(run, {
    setLimit(value: number) {
      limit = value;
      next();
    },
  });
}

/** A fresh SNAPBUILD_HOME; `removeHome` unmounts the local store's layer image if a command mounted one. */
export function makeHome(prefix = 'snapbuild-chaos-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeHome(home: string): void {
  const mounts = readFileSync('/proc/mounts', 'utf8');
  const fs = path.join(home, 'local', 'fs');
  if (mounts.split('\n').some((l) => l.split(' ')[1] === fs)) {
    try {
      execFileSync('umount', ['-l', fs], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
  if (existsSync(home)) rmSync(home, { recursive: true, force: true });
}

/** A stack trace line, as Node prints them. */
export const STACK = /\n\s+at /;

/** Control characters other than the newline that ends each line. */
export const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

/** Everything the SDK logged (TS logger at DEBUG, Core at INFO), as text. */
export const sdkLog: string[] = [];

function metaText(meta: unknown): string {
  try {
    return JSON.stringify(meta, (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Error) return { name: v.name, message: v.message, stack: v.stack, cause: (v as { cause?: unknown }).cause };
      return v;
    });
  } catch {
    return String(meta);
  }
}

let runtimeInstalled = false;
/**
 * Installs the SDK runtime with a logger that records everything at DEBUG (and forwards Core's INFO logs), so
 * that a test can assert what the worker logged. Must run before any worker or native connection in this
 * module registry; the shared helper's quiet runtime cannot be installed after it.
 */
export function installCapturingRuntime(): void {
  if (runtimeInstalled) return;
  Runtime.install({
    logger: new DefaultLogger('DEBUG', (entry: LogEntry) => {
      sdkLog.push(`${entry.level} ${entry.message} ${metaText(entry.meta)}`);
    }),
    telemetryOptions: { logging: { filter: { core: 'INFO', other: 'WARN' }, forward: {} } },
  });
  runtimeInstalled = true;
}

export type CapturingTemporal = TestTemporal;

/** startTestWorker on the capturing runtime. */
export function startCapturingWorker(provider: Provider): Promise<CapturingTemporal> {
  return startTestWorker(provider, installCapturingRuntime);
}
