/**
 * The snapbuild benchmark harness. Every row measures snapbuild against a baseline in the same run, alternating
 * the two over repeats, and reports medians and ratios (the machine is small, shared and noisy).
 *
 *   npx ts-node --transpile-only bench/run.ts [--quick] [--rows 1,3] [--dev-server-config KEY=VALUE]...
 *
 * --dev-server-config is for what-if runs only (e.g. history.transferProcessorMaxPollRPS=1000); the numbers in
 * BENCHMARKS.md come from the stock dev server that startDevServer starts.
 *
 * Infrastructure: one in-memory Temporal dev server, in-process workers, and a throw-away local store per row
 * (a loop-mounted image under /tmp), all removed at the end, on failure and on Ctrl-C too. Results go to
 * bench/results/<ISO timestamp>.json and a table on stdout. With --quick, sizes are smaller and the process
 * exits non-zero when a target is missed by a wide margin.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { bundleWorkflows } from '../src/worker';
import { Cleanup, round, startTemporal, type Ctx, type Line, type RowResult } from './lib';
import { cacheRow } from './rows/cache';
import { fanoutRow } from './rows/fanout';
import { localRow } from './rows/local';
import { loadRow } from './rows/load';
import { orchestrationRow } from './rows/orchestration';

const ROWS: { id: string; title: string; run: (ctx: Ctx) => Promise<RowResult> }[] = [
  { id: '1', title: 'Orchestration overhead', run: orchestrationRow },
  { id: '2', title: 'Cache resolution', run: cacheRow },
  { id: '3', title: 'Fan-out', run: fanoutRow },
  { id: '4', title: 'Local provider', run: localRow },
  { id: '5', title: 'Load', run: loadRow },
];

function parseArgs(argv: string[]): { quick: boolean; rows: Set<string>; devServerConfig: string[] } {
  let quick = false;
  const devServerConfig: string[] = [];
  let rows = new Set(ROWS.map((r) => r.id));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--rows' || a.startsWith('--rows=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      rows = new Set((v ?? '').split(',').map((s) => s.trim()).filter(Boolean));
      for (const r of rows) if (!ROWS.some((row) => row.id === r)) usage(`unknown row ${r}`);
    } else if (a === '--dev-server-config' || a.startsWith('--dev-server-config=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!v) usage('--dev-server-config needs KEY=VALUE');
      devServerConfig.push(v);
    } else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  return { quick, rows, devServerConfig };
}

function usage(problem?: string): never {
  if (problem) console.error(`bench: ${problem}`);
  console.error('usage: npx ts-node --transpile-only bench/run.ts [--quick] [--rows 1,2,3,4,5] [--dev-server-config KEY=VALUE]...');
  process.exit(2);
}

function table(lines: Line[]): string {
  const header = ['row', 'measure', 'snapbuild', 'baseline', 'result', 'target', 'status'];
  const body = lines.map((l) => [l.row, l.measure, l.snapbuild, l.baseline, l.result, l.target ?? '-', l.met === undefined ? 'info' : l.met ? 'met' : 'MISSED']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(fmt)].join('\n');
}

/** The commit measured and whether src/ had uncommitted changes (read-only git queries; best effort). */
function sourceVersion(): { commit?: string; srcDirty?: boolean } {
  const root = path.resolve(__dirname, '..');
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return { commit, srcDirty: dirty };
  } catch {
    return {};
  }
}

async function main(): Promise<number> {
  const { quick, rows, devServerConfig } = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const startedAt = new Date();
  const log = (line: string) => console.error(line);
  const cleanup = new Cleanup();

  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`bench: ${sig}: cleaning up`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Whatever escapes (a timer that throws, a stray rejection): report it, remove stores and the server, exit 1.
  const onFatal = (err: unknown) => {
    console.error(`bench: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (interrupted) return;
    interrupted = true;
    void cleanup.run().finally(() => process.exit(1));
  };
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);

  Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
  const results: RowResult[] = [];
  const errors: { row: string; error: string }[] = [];
  try {
    log(`bench: ${quick ? 'quick' : 'full'} run, rows ${[...rows].join(',')}${devServerConfig.length ? `, what-if dev server config ${devServerConfig.join(' ')}` : ''}; starting the Temporal dev server and bundling workflows`);
    const [temporal, workflowBundle] = await Promise.all([startTemporal(cleanup, log, devServerConfig), bundleWorkflows()]);
    const ctx0: Omit<Ctx, 'cleanup'> = { quick, temporal, workflowBundle, log };
    for (const row of ROWS.filter((r) => rows.has(r.id))) {
      if (interrupted) break;
      log(`bench: row ${row.id}: ${row.title}`);
      // Each row gets its own store (and worker), removed as soon as the row is done.
      const scope = new Cleanup();
      cleanup.add(`row ${row.id}`, () => scope.run());
      const t0 = performance.now();
      try {
        const result = await row.run({ ...ctx0, cleanup: scope });
        result.wallMs = Math.round(performance.now() - t0);
        results.push(result);
        log(`bench: row ${row.id} done in ${(result.wallMs / 1000).toFixed(1)} s`);
      } catch (err) {
        const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
        errors.push({ row: row.id, error: message });
        log(`bench: row ${row.id} failed: ${message}`);
      } finally {
        await scope.run();
      }
    }
  } finally {
    await cleanup.run();
  }

  const lines = results.flatMap((r) => r.lines);
  for (const e of errors) {
    lines.push({ row: `${e.row} ERROR`, measure: e.error.split('\n')[0].slice(0, 100), snapbuild: '-', baseline: '-', result: 'failed', target: 'runs', met: false, wideMiss: true, wideRule: 'the row failed' });
  }
  const targets = lines.filter((l) => l.met !== undefined);
  const met = targets.filter((l) => l.met).length;
  const wallMs = Math.round(performance.now() - started);
  const wide = quick ? targets.filter((l) => l.wideMiss) : [];

  const file = path.join(__dirname, 'results', `${startedAt.toISOString().replace(/:/g, '-')}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        mode: quick ? 'quick' : 'full',
        devServerConfig,
        source: sourceVersion(),
        wallMs,
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memBytes: os.totalmem(), loadavg: os.loadavg().map((l) => round(l)), node: process.version, kernel: os.release() },
        summary: { targets: targets.length, met, missed: targets.length - met },
        lines,
        rows: results,
        errors,
      },
      null,
      2,
    ) + '\n',
  );

  console.log(table(lines));
  console.log('');
  console.log(`results: ${path.relative(process.cwd(), file)}; wall time ${(wallMs / 1000).toFixed(1)} s${devServerConfig.length ? `; what-if dev server config: ${devServerConfig.join(' ')}` : ''}`);
  for (const l of wide) console.log(`bench: wide miss in quick mode: ${l.row}: ${l.measure}: ${l.result} (${l.wideRule})`);
  console.log(`bench: ${targets.length} targets, ${met} met, ${targets.length - met} missed`);
  return wide.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
