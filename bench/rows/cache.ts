/**
 * Row 2: cache resolution of a fully cached recipe against the Morph emulator with 20 ms of latency per request.
 * snapbuild plans with `lookupPlan` over a MorphProvider (digests looked up concurrently); the baseline is the
 * Morph Python SDK's algorithm (`Snapshot.build` / `_cache_lookup`): one `GET /snapshot?digest=` per step, in
 * order, stopping at the first miss, over a keep-alive undici agent with the same bearer key.
 */
import { Agent, request } from 'undici';
import { chainDigests, shellIdentifier } from '../../src/core/digest';
import { normalizeRecipe } from '../../src/core/recipe';
import { MorphProvider } from '../../src/providers/morph';
import { startMorphEmulator } from '../../src/providers/morph-emulator';
import { lookupPlan } from '../../src/providers/plan';
import { alternate, marker, median, ms, openStore, summary, timed, x, type Ctx, type Line, type RowResult } from '../lib';

const KEY = `bench-key-${marker()}`;
const LATENCY_MS = 20;

interface SnapshotList {
  data: { id: string; digest: string | null; status: string }[];
}

export async function cacheRow(ctx: Ctx): Promise<RowResult> {
  const n = ctx.quick ? 30 : 100;
  const repeats = ctx.quick ? 3 : 7;
  const store = await openStore(ctx.cleanup, 'cache');
  const emulator = await startMorphEmulator({ provider: store.provider, apiKey: KEY, instanceReadyDelayMs: 0, snapshotReadyDelayMs: 0 });
  ctx.cleanup.add('Morph emulator', () => emulator.close());
  const morphOpts = { baseUrl: emulator.url, apiKey: KEY, pollMinMs: 10, pollMaxMs: 50 };
  const morph = new MorphProvider(morphOpts);
  ctx.cleanup.add('Morph client', () => morph.close());
  const morphWide = new MorphProvider({ ...morphOpts, lookupConcurrency: 32 });
  ctx.cleanup.add('Morph client (32)', () => morphWide.close());
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 8 });
  ctx.cleanup.add('baseline agent', () => agent.close());

  // Cache every layer once, with no latency: one instance, one snapshot per step under the step's digest.
  ctx.log(`  row 2: caching ${n} layers through the Morph client`);
  const commands = Array.from({ length: n }, (_, i) => (i === 0 ? `true # ${marker()}` : 'true'));
  const spec = normalizeRecipe({ base: 'morphvm-minimal', steps: commands });
  const prep = await timed(async () => {
    const base = await morph.resolveBase('morphvm-minimal');
    const digests = chainDigests(base.digest || base.id, commands.map(shellIdentifier));
    const inst = await morph.startInstance(base.id, { ttlSeconds: 3600 });
    try {
      for (const digest of digests) await morph.snapshot(inst.id, { digest });
    } finally {
      await morph.stopInstance(inst.id);
    }
    return digests;
  });
  const digests = prep.value;

  /** The Python SDK's lookup: sequential, in step order, stopping at the first miss. */
  const sdkLookup = async (ds: readonly string[]) => {
    let requests = 0;
    let hits = 0;
    for (const d of ds) {
      requests++;
      const res = await request(`${emulator.url}/snapshot?digest=${encodeURIComponent(d)}`, {
        method: 'GET',
        headers: { authorization: `Bearer ${KEY}`, accept: 'application/json' },
        dispatcher: agent,
      });
      const body = (await res.body.json()) as SnapshotList;
      if (res.statusCode !== 200) throw new Error(`GET /snapshot?digest=: HTTP ${res.statusCode}`);
      if (!body.data.some((s) => s.digest === d)) break;
      hits++;
    }
    return { requests, hits };
  };
  const plan = (provider: MorphProvider) => lookupPlan(provider, spec.base, spec.steps.map((s) => s.identifier));
  const counted = async <T>(fn: () => Promise<T>) => {
    const before = emulator.stats().requests;
    const r = await timed(fn);
    return { ms: r.ms, value: r.value, requests: emulator.stats().requests - before };
  };

  emulator.setFaults({ latencyMs: LATENCY_MS });
  // Warm both clients' keep-alive connections (not measured).
  await plan(morph);
  await plan(morphWide);
  await sdkLookup(digests.slice(0, 8));

  ctx.log(`  row 2: ${n} cached steps, ${LATENCY_MS} ms latency, ${repeats} repeats`);
  const runs = await alternate(
    repeats,
    async () => {
      const r = await counted(() => plan(morph));
      if (r.value.deepestCached !== n - 1) throw new Error(`snapbuild plan: expected all ${n} steps cached, got ${r.value.deepestCached + 1}`);
      return r;
    },
    async () => {
      const r = await counted(() => sdkLookup(digests));
      if (r.value.hits !== n) throw new Error(`SDK lookup: expected ${n} hits, got ${r.value.hits}`);
      if (r.value.requests !== r.requests) throw new Error(`request count mismatch: counted ${r.value.requests}, emulator saw ${r.requests}`);
      return r;
    },
  );
  // Informational: the same plan with 32 lookups in flight, and a single probe of the final digest.
  const wide = await alternate(repeats, () => counted(() => plan(morphWide)), () => counted(() => sdkLookup(digests.slice(-1))));
  emulator.setFaults({ latencyMs: 0 });

  const snap = runs.a.map((r) => r.ms);
  const sdk = runs.b.map((r) => r.ms);
  const speedups = snap.map((s, i) => sdk[i] / s);
  const speedup = median(speedups);
  const wideMs = median(wide.a.map((r) => r.ms));
  const probeMs = median(wide.b.map((r) => r.ms));
  const lines: Line[] = [
    {
      row: '2 cache',
      measure: `${n} cached steps, ${LATENCY_MS} ms latency: SDK / snapbuild`,
      snapbuild: `${ms(median(snap))} (${runs.a[0].requests} req)`,
      baseline: `${ms(median(sdk))} (${runs.b[0].requests} req)`,
      result: `${x(speedup)} faster`,
      target: '>= 10x',
      met: speedup >= 10,
      wideMiss: speedup < 4,
      wideRule: 'cache speedup < 4x',
    },
    {
      row: '2 cache (info)',
      measure: `same plan, lookupConcurrency 32`,
      snapbuild: `${ms(wideMs)} (${wide.a[0].requests} req)`,
      baseline: `${ms(median(sdk))}`,
      result: `${x(median(sdk) / wideMs)} faster`,
    },
    {
      row: '2 cache (info)',
      measure: `one GET of the final digest only`,
      snapbuild: `${ms(probeMs)} (${wide.b[0].requests} req)`,
      baseline: `${ms(median(sdk))}`,
      result: `${x(median(sdk) / probeMs)} faster`,
    },
  ];
  return {
    id: '2',
    title: 'Cache resolution',
    lines,
    data: {
      n,
      repeats,
      latencyMs: LATENCY_MS,
      prepMs: Math.round(prep.ms),
      snapbuildMs: summary(snap),
      snapbuildRequests: runs.a.map((r) => r.requests),
      sdkMs: summary(sdk),
      sdkRequests: runs.b.map((r) => r.requests),
      speedup: summary(speedups),
      concurrency32Ms: summary(wide.a.map((r) => r.ms)),
      concurrency32Requests: wide.a.map((r) => r.requests),
      finalDigestProbeMs: summary(wide.b.map((r) => r.ms)),
      emulatorStats: emulator.stats(),
    },
  };
}
