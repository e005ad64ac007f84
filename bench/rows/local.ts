/**
 * Row 4: the local provider on its own. (a) Instance start time (startInstance alone, and startInstance plus
 * the first `exec('true')`) from a snapshot at layer depth 1 and at depth D, alternated, with the bare cost of
 * an isolated process (`unshare --mount --pid --fork true`) measured beside them as the floor. (b) Store growth
 * when a step writes 1 MiB of new data: the bytes of the new layer directory against the 1 MiB written.
 * (c, informational) The cost of a digest lookup as the store's snapshot records grow.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { LocalProvider } from '../../src/providers/local';
import { bytes, cpuText, marker, median, metered, ms, openStore, round, summary, timed, x, type Ctx, type Line, type RowResult } from '../lib';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** Builds a chain of `depth` layers from the host base, each step writing one small file. */
async function chain(provider: LocalProvider, depth: number): Promise<string> {
  const inst = await provider.startInstance('host', { ttlSeconds: 3600 });
  let last = '';
  try {
    const m = marker();
    for (let i = 0; i < depth; i++) {
      const r = await provider.exec(inst.id, `echo ${m} ${i} > /root/layer-${i}`);
      if (r.exitCode !== 0) throw new Error(`chain step ${i}: exit ${r.exitCode}: ${r.stderr}`);
      last = (await provider.snapshot(inst.id, { digest: `bench-chain-${m}-${i}` })).id;
    }
  } finally {
    await provider.stopInstance(inst.id);
  }
  return last;
}

/** Runs `command` in a fresh instance of `from`, snapshots it, and returns the new layer's size in bytes. */
async function layerBytes(provider: LocalProvider, from: string, command: string): Promise<{ bytes: number; snapshotId: string }> {
  const inst = await provider.startInstance(from, { ttlSeconds: 3600 });
  try {
    const r = await provider.exec(inst.id, command);
    if (r.exitCode !== 0) throw new Error(`${command}: exit ${r.exitCode}: ${r.stderr}`);
    const snap = await provider.snapshot(inst.id, { digest: `bench-growth-${marker()}` });
    const out = execFileSync('du', ['-sb', path.join(provider.layerRoot, 'layers', snap.id)], { encoding: 'utf8' });
    return { bytes: Number(out.split(/\s/)[0]), snapshotId: snap.id };
  } finally {
    await provider.stopInstance(inst.id);
  }
}

export async function localRow(ctx: Ctx): Promise<RowResult> {
  const depth = ctx.quick ? 20 : 50;
  const samples = ctx.quick ? 6 : 15;
  const growthRepeats = ctx.quick ? 2 : 3;
  const { provider } = await openStore(ctx.cleanup, 'local');

  ctx.log(`  row 4a: chains of depth 1 and ${depth}, ${samples} samples each`);
  const shallow = await chain(provider, 1);
  const deep = await chain(provider, depth);

  const sample = async (snapshotId: string) => {
    const t0 = performance.now();
    const inst = await provider.startInstance(snapshotId, { ttlSeconds: 600 });
    const t1 = performance.now();
    try {
      const r = await provider.exec(inst.id, 'true');
      if (r.exitCode !== 0) throw new Error(`exec true: exit ${r.exitCode}`);
      return { start: t1 - t0, startExec: performance.now() - t0 };
    } finally {
      await provider.stopInstance(inst.id);
    }
  };
  const floor = async () => {
    const t0 = performance.now();
    await run('unshare', ['--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', '--', '/bin/true']);
    return performance.now() - t0;
  };
  await sample(shallow); // warm-up
  await sample(deep);
  const s1: { start: number; startExec: number }[] = [];
  const sD: { start: number; startExec: number }[] = [];
  const fl: number[] = [];
  for (let i = 0; i < samples; i++) {
    // Rotate the order so drift hits every kind alike.
    const order = [() => sample(shallow).then((r) => s1.push(r)), () => sample(deep).then((r) => sD.push(r)), () => floor().then((r) => fl.push(r))];
    for (let k = 0; k < order.length; k++) await order[(i + k) % order.length]();
  }
  // CPU per command in the sandbox (warm instance, depth D) against the bare isolated process, 20 of each.
  const warm = await provider.startInstance(deep, { ttlSeconds: 600 });
  let execCpu: Awaited<ReturnType<typeof metered>>;
  let floorCpu: Awaited<ReturnType<typeof metered>>;
  try {
    execCpu = await metered(undefined, async () => {
      for (let i = 0; i < 20; i++) await provider.exec(warm.id, 'true');
    });
    floorCpu = await metered(undefined, async () => {
      for (let i = 0; i < 20; i++) await floor();
    });
  } finally {
    await provider.stopInstance(warm.id);
  }
  const per = (c: typeof execCpu) => ({ ...c.cpu, self: c.cpu.self / 20, children: c.cpu.children / 20, server: 0, total: c.cpu.total / 20 });
  const m1 = median(s1.map((s) => s.startExec));
  const mD = median(sD.map((s) => s.startExec));
  const st1 = median(s1.map((s) => s.start));
  const stD = median(sD.map((s) => s.start));
  const flat = mD / m1;
  const worst = Math.max(m1, mD);

  ctx.log(`  row 4b: store growth, ${growthRepeats} repeats`);
  const grow: number[] = [];
  for (let i = 0; i < growthRepeats; i++) grow.push((await layerBytes(provider, 'host', `head -c ${MiB} /dev/urandom > /root/blob-${marker()}`)).bytes);
  // Informational: changing 1 MiB inside a 64 MiB file that lives in a lower layer (overlayfs copies files up whole).
  const big = await layerBytes(provider, 'host', `head -c ${64 * MiB} /dev/urandom > /root/big`);
  const modify: number[] = [];
  for (let i = 0; i < growthRepeats; i++) {
    modify.push((await layerBytes(provider, big.snapshotId, 'dd if=/dev/urandom of=/root/big bs=1M count=1 seek=10 conv=notrunc status=none')).bytes);
  }
  const growth = median(grow);

  // Informational: a digest lookup (what planning and every snapshot activity do) as the store's records grow.
  const extra = ctx.quick ? 200 : 1000;
  ctx.log(`  row 4c: digest lookup cost with ${extra} more snapshot records`);
  const records = async () => (await readdir(path.join(provider.layerRoot, 'records/snapshots'))).filter((n) => n.endsWith('.json')).length;
  const lookups = async () => {
    const t: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await provider.listSnapshots({ digest: `bench-absent-${i}` });
      t.push(performance.now() - t0);
    }
    return median(t);
  };
  const k0 = await records();
  const small = await lookups();
  for (let made = 0; made < extra; ) {
    const inst = await provider.startInstance('host', { ttlSeconds: 600 });
    try {
      for (let j = 0; j < 20 && made < extra; j++, made++) await provider.snapshot(inst.id, { digest: `bench-filler-${marker()}` });
    } finally {
      await provider.stopInstance(inst.id);
    }
  }
  const k1 = await records();
  const large = await lookups();
  // Informational: as many lookups at once as row 5 runs builds. Each one opens every record file at once.
  const concurrent = ctx.quick ? 10 : 50;
  const burst = await timed(() =>
    Promise.allSettled(Array.from({ length: concurrent }, (_, i) => provider.findReadySnapshots([`bench-absent-${i}`]))),
  );
  const burstErrors = burst.value.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String((r.reason as NodeJS.ErrnoException)?.code ?? r.reason));
  const fdLimit = (() => {
    try {
      return execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  })();

  const lines: Line[] = [
    {
      row: '4a local start',
      measure: `startInstance + first exec, depth ${depth} vs 1`,
      snapbuild: `${ms(mD)} @${depth}`,
      baseline: `${ms(m1)} @1`,
      result: x(flat),
      target: '~1 (<= 1.25)',
      met: flat <= 1.25,
      wideMiss: flat > 3,
      wideRule: 'depth ratio > 3',
    },
    {
      row: '4a local start',
      measure: `startInstance + first exec (worst depth)`,
      snapbuild: ms(worst),
      baseline: `${ms(median(fl))} floor`,
      result: ms(worst),
      target: '< 50 ms',
      met: worst < 50,
      wideMiss: worst > 150,
      wideRule: 'start > 150 ms',
    },
    {
      row: '4a local start (info)',
      measure: `startInstance alone, depth ${depth} vs 1`,
      snapbuild: `${ms(stD)} @${depth}`,
      baseline: `${ms(st1)} @1`,
      result: x(stD / st1),
    },
    {
      row: '4a local start (info)',
      measure: `CPU per exec('true'), sandbox vs bare unshare`,
      snapbuild: cpuText(per(execCpu)),
      baseline: cpuText(per(floorCpu)),
      result: `${ms(execCpu.ms / 20)} vs ${ms(floorCpu.ms / 20)} wall`,
    },
    {
      row: '4b store growth',
      measure: 'new layer after writing 1 MiB of new data',
      snapbuild: bytes(growth),
      baseline: `${bytes(MiB)} written`,
      result: x(growth / MiB),
      target: '< 1.2 MB',
      met: growth < 1.2e6,
      wideMiss: growth > 2e6,
      wideRule: 'growth > 2 MB',
    },
    {
      row: '4b store growth (info)',
      measure: 'new layer after changing 1 MiB of a 64 MiB file',
      snapbuild: bytes(median(modify)),
      baseline: `${bytes(MiB)} changed`,
      result: x(median(modify) / MiB),
    },
    {
      row: '4c store size (info)',
      measure: `listSnapshots({digest}), ${k1} vs ${k0} records`,
      snapbuild: `${ms(large)} @${k1}`,
      baseline: `${ms(small)} @${k0}`,
      result: `${x(large / small)} (+${round(((large - small) / (k1 - k0)) * 1000, 1)} ms/1000)`,
    },
    {
      row: '4c store size (info)',
      measure: `${concurrent} concurrent findReadySnapshots @${k1} records`,
      snapbuild: burstErrors.length ? `${burstErrors.length}/${concurrent} failed` : `${concurrent}/${concurrent} ok`,
      baseline: `fd limit ${fdLimit}`,
      result: burstErrors.length ? [...new Set(burstErrors)].join(',') : ms(burst.ms),
    },
  ];
  return {
    id: '4',
    title: 'Local provider',
    lines,
    data: {
      depth,
      samples,
      depth1: { startMs: summary(s1.map((s) => s.start)), startExecMs: summary(s1.map((s) => s.startExec)) },
      [`depth${depth}`]: { startMs: summary(sD.map((s) => s.start)), startExecMs: summary(sD.map((s) => s.startExec)) },
      unshareFloorMs: summary(fl),
      cpuPerExecMs: { sandbox: per(execCpu), bareUnshare: per(floorCpu), wallSandboxMs: round(execCpu.ms / 20), wallBareMs: round(floorCpu.ms / 20) },
      depthRatio: round(flat, 3),
      growthBytes: grow,
      modifyInPlaceBytes: modify,
      lookupBySize: { records: [k0, k1], medianMs: [round(small), round(large)] },
      concurrentLookups: { concurrent, records: k1, ms: round(burst.ms), failed: burstErrors.length, errors: [...new Set(burstErrors)], openFileLimit: fdLimit },
    },
  };
}
