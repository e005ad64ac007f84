/** The build workflow on a real Temporal dev server, a real worker and the real local provider. */
import { spawnSync } from 'node:child_process';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { normalizeRecipe } from '../../src/core/recipe';
import type { BuildSpec } from '../../src/core/types';
import { startBuild } from '../../src/client';
import { lookupPlan } from '../../src/providers/plan';
import { progressQuery } from '../../src/workflows/messages';
import { openTestStore, type TestStore } from '../helpers/store';
import { startTestWorker, type TestTemporal } from '../helpers/temporal';

let store: TestStore;
let temporal: TestTemporal;

beforeAll(async () => {
  store = await openTestStore();
  temporal = await startTestWorker(store.provider);
});

afterAll(async () => {
  await temporal?.close();
  await store?.cleanup();
});

async function start(recipe: unknown) {
  const spec: BuildSpec = normalizeRecipe(recipe);
  const plan = await lookupPlan(store.provider, spec.base, spec.steps.map((s) => s.identifier));
  return startBuild(temporal.client, { spec, plan, taskQueue: temporal.taskQueue, recipeName: 'test' });
}

async function build(recipe: unknown) {
  return (await start(recipe)).result();
}

async function running() {
  return store.provider.listInstances();
}

/** Unique per test so that layers from other tests are never reused by accident. */
const marker = () => `m${Date.now()}${Math.random().toString(16).slice(2, 8)}`;

test('first build runs every step; a second build is fully cached and starts no instance', async () => {
  const m = marker();
  const recipe = { base: 'host', steps: [`echo ${m} > /root/a`, 'cat /root/a > /root/b', 'test -s /root/b'] };
  const first = await build(recipe);
  expect(first.fullyCached).toBe(false);
  expect(first.steps.map((s) => s.state)).toEqual(['built', 'built', 'built']);
  expect(first.steps.every((s) => s.snapshotId && s.digest.length === 64)).toBe(true);
  expect(first.snapshotId).toBe(first.steps[2].snapshotId);
  expect(await running()).toEqual([]);

  const second = await build(recipe);
  expect(second.fullyCached).toBe(true);
  expect(second.instanceId).toBeUndefined();
  expect(second.steps.map((s) => s.cached)).toEqual([true, true, true]);
  expect(second.snapshotId).toBe(first.snapshotId);
  expect(second.digest).toBe(first.digest);

  // The layers hold real state: a new instance from the final snapshot sees the files.
  const inst = await store.provider.startInstance(first.snapshotId, { ttlSeconds: 60 });
  try {
    expect((await store.provider.exec(inst.id, 'cat /root/b')).stdout.trim()).toBe(m);
  } finally {
    await store.provider.stopInstance(inst.id);
  }
});

test('changing step k re-runs only steps k..n, starting from the layer before it', async () => {
  const m = marker();
  const steps = [`echo ${m} > /root/s0`, 'echo 1 > /root/s1', 'echo 2 > /root/s2', 'cat /root/s0 /root/s2 > /root/s3'];
  const first = await build({ base: 'host', steps });
  const changed = [...steps];
  changed[2] = 'echo two > /root/s2';
  const second = await build({ base: 'host', steps: changed });
  expect(second.steps.map((s) => s.cached)).toEqual([true, true, false, false]);
  expect(second.steps.slice(0, 2).map((s) => s.digest)).toEqual(first.steps.slice(0, 2).map((s) => s.digest));
  expect(second.steps[2].digest).not.toBe(first.steps[2].digest);
  const inst = await store.provider.startInstance(second.snapshotId, { ttlSeconds: 60 });
  try {
    expect((await store.provider.exec(inst.id, 'cat /root/s3')).stdout).toBe(`${m}\ntwo\n`);
  } finally {
    await store.provider.stopInstance(inst.id);
  }
});

test('a failing step fails the build with its exit code and output, and leaves no running instance', async () => {
  const m = marker();
  const err = await build({ base: 'host', steps: [`echo ${m}`, 'echo about to fail; echo oops >&2; exit 3', 'echo never'] }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const activity = err.cause as ActivityFailure;
  expect(activity).toBeInstanceOf(ActivityFailure);
  const failure = activity.cause as ApplicationFailure;
  expect(failure.type).toBe('StepFailed');
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).toMatch(/^step 1 .* exited with code 3/);
  expect(failure.details?.[0]).toMatchObject({ stepIndex: 1, exitCode: 3 });
  expect((failure.details?.[0] as { outputTail: string }).outputTail).toContain('oops');
  expect(await running()).toEqual([]);
  // The layer of the step that succeeded was kept: a rerun resumes after it.
  const again = await build({ base: 'host', steps: [`echo ${m}`, 'true'] });
  expect(again.steps[0].cached).toBe(true);
});

test('cancelling mid-step kills the command and leaves no running instance', async () => {
  const handle = await start({ base: 'host', steps: [`echo ${marker()}`, 'sleep 61.25'] });
  for (let i = 0; i < 200; i++) {
    const p = await handle.query(progressQuery);
    if (p.steps[1].state === 'running') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect((await running()).length).toBe(1);
  await handle.cancel();
  const err = await handle.result().catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toBeInstanceOf(CancelledFailure);
  expect(await running()).toEqual([]);
  expect(spawnSync('pgrep', ['-f', 'sleep 61.25']).status).toBe(1); // no such process left
  const progress = await handle.query(progressQuery);
  expect(progress.phase).toBe('cancelled');
});

test('identical concurrent requests attach to one run (USE_EXISTING)', async () => {
  const recipe = { base: 'host', steps: [`echo ${marker()}`, 'sleep 1'] };
  const [a, b] = await Promise.all([start(recipe), start(recipe)]);
  expect(a.workflowId).toBe(b.workflowId);
  const [ra, rb] = await Promise.all([a.result(), b.result()]);
  expect(ra).toEqual(rb);
  expect((await a.describe()).runId).toBe((await b.describe()).runId);
});

test('keepFailedInstance keeps the failed builder alive and names it in the error', async () => {
  const err = await build({ base: 'host', keepFailedInstance: '5m', steps: [`echo ${marker()}`, 'exit 7'] }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const failure = err.cause as ApplicationFailure;
  expect(failure.type).toBe('BuildFailed');
  const kept = (failure.details?.[0] as { keptInstanceId: string }).keptInstanceId;
  expect(failure.message).toContain(kept);
  expect(failure.message).toMatch(/exited with code 7.*kept for debugging for 300s/);
  const inst = await store.provider.getInstance(kept);
  expect(inst.ttlExpireAt! - Date.now()).toBeLessThanOrEqual(300_000);
  expect((await store.provider.exec(kept, 'echo alive')).stdout).toBe('alive\n');
  await store.provider.stopInstance(kept);
});
