/**
 * Full builds through the Morph client against the emulator, with faults on: the build completes, every
 * digest has exactly one READY snapshot, and no instance is left running.
 */
import { startBuild } from '../../src/client';
import { normalizeRecipe } from '../../src/core/recipe';
import type { MorphProvider } from '../../src/providers/morph';
import type { MorphEmulator } from '../../src/providers/morph-emulator';
import { lookupPlan } from '../../src/providers/plan';
import { openMorphTarget, type MorphTarget } from '../helpers/morph';
import { startTestWorker, type TestTemporal } from '../helpers/temporal';

let target: MorphTarget;
let emulator: MorphEmulator;
let morph: MorphProvider;
let temporal: TestTemporal;

beforeAll(async () => {
  target = await openMorphTarget('test-key-morph-workflow');
  ({ emulator, morph } = target);
  temporal = await startTestWorker(morph);
});
afterAll(async () => {
  await temporal?.close();
  await target?.close();
});

async function build(recipe: unknown) {
  const spec = normalizeRecipe(recipe);
  const plan = await lookupPlan(morph, spec.base, spec.steps.map((s) => s.identifier));
  return (await startBuild(temporal.client, { spec, plan, taskQueue: temporal.taskQueue })).result();
}

/** What the emulator holds, read with faults off. */
async function audit(digests: string[]) {
  const faults = emulator.faults();
  emulator.setFaults({ errorRate: 0, rateLimitRate: 0, dropRate: 0, latencyMs: 0 });
  try {
    const perDigest = await Promise.all(digests.map(async (d) => (await morph.listSnapshots({ digest: d })).filter((s) => s.status === 'ready').length));
    return { readyPerDigest: perDigest, running: (await morph.listInstances()).map((i) => i.id) };
  } finally {
    emulator.setFaults(faults);
  }
}

test('a build through the Morph client works and a second run is fully cached', async () => {
  const recipe = { base: 'morphvm-minimal', steps: [`echo ${Date.now()} > /root/m`, 'cat /root/m', { run: 'test -s /root/m', env: { X: 'y z' } }] };
  const first = await build(recipe);
  expect(first.steps.map((s) => s.state)).toEqual(['built', 'built', 'built']);
  const second = await build(recipe);
  expect(second.fullyCached).toBe(true);
  expect(second.snapshotId).toBe(first.snapshotId);
  expect(await audit(first.steps.map((s) => s.digest))).toEqual({ readyPerDigest: [1, 1, 1], running: [] });
});

test('with 20% 5xx, 10% 429 and latency, the build completes with exactly one READY snapshot per digest', async () => {
  emulator.setFaults({ errorRate: 0.2, rateLimitRate: 0.1, latencyMs: 20, seed: 7 });
  try {
    const steps = Array.from({ length: 5 }, (_, i) => ({ run: `echo ${i} >> /root/log-${process.pid}`, retries: 6 }));
    const result = await build({ base: 'morphvm-minimal', steps: [{ run: `echo faulty-${Date.now()}`, retries: 6 }, ...steps] });
    expect(result.steps.every((s) => s.state === 'built')).toBe(true);
    expect(emulator.stats().errors).toBeGreaterThan(0);
    expect(emulator.stats().rateLimited).toBeGreaterThan(0);
    expect(await audit(result.steps.map((s) => s.digest))).toEqual({ readyPerDigest: [1, 1, 1, 1, 1, 1], running: [] });
    emulator.setFaults({ errorRate: 0, rateLimitRate: 0 });
    const inst = await morph.startInstance(result.snapshotId, { ttlSeconds: 60 });
    try {
      expect((await morph.exec(inst.id, `cat /root/log-${process.pid}`)).stdout).toBe('0\n1\n2\n3\n4\n');
    } finally {
      await morph.stopInstance(inst.id);
    }
  } finally {
    emulator.setFaults({ errorRate: 0, rateLimitRate: 0, latencyMs: 0 });
  }
});

test('lost responses (dropped connections after the server acted) still give one snapshot per digest and no leaked instance', async () => {
  emulator.setFaults({ dropRate: 0.15, seed: 11 });
  try {
    const steps = Array.from({ length: 4 }, (_, i) => ({ run: `echo ${i} >> /root/drop-${process.pid}`, retries: 8 }));
    const result = await build({ base: 'morphvm-minimal', steps: [{ run: `echo drops-${Date.now()}`, retries: 8 }, ...steps] });
    expect(result.steps.every((s) => s.state === 'built')).toBe(true);
    expect(emulator.stats().dropped).toBeGreaterThan(0);
    expect(await audit(result.steps.map((s) => s.digest))).toEqual({ readyPerDigest: [1, 1, 1, 1, 1], running: [] });
  } finally {
    emulator.setFaults({ dropRate: 0 });
  }
});
