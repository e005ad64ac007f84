/** Infrastructure failures mid-step: the step re-runs on a fresh instance from the last good snapshot. */
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { startBuild } from '../../src/client';
import { normalizeRecipe } from '../../src/core/recipe';
import { lookupPlan } from '../../src/providers/plan';
import { withLostExecResponses } from '../helpers/faults';
import { openTestStore, type TestStore } from '../helpers/store';
import { startTestWorker, type TestTemporal } from '../helpers/temporal';

let store: TestStore;
let temporal: TestTemporal;
let faulty: ReturnType<typeof withLostExecResponses>;

beforeAll(async () => {
  store = await openTestStore();
  // Every command containing "FLAKY" loses its first response.
  faulty = withLostExecResponses(store.provider, (cmd, n) => cmd.includes('FLAKY') && n === 1);
  temporal = await startTestWorker(faulty);
});
afterAll(async () => {
  await temporal?.close();
  await store?.cleanup();
});

async function build(recipe: unknown) {
  const spec = normalizeRecipe(recipe);
  const plan = await lookupPlan(store.provider, spec.base, spec.steps.map((s) => s.identifier));
  return (await startBuild(temporal.client, { spec, plan, taskQueue: temporal.taskQueue })).result();
}

test('a lost exec response re-runs the step once, on a fresh instance from the last good snapshot', async () => {
  const m = `r${Date.now()}`;
  const result = await build({ base: 'host', steps: [`echo ${m} > /root/log`, 'echo FLAKY >> /root/log', 'echo after >> /root/log'] });
  expect(result.steps.map((s) => s.attempts)).toEqual([1, 2, 1]);
  expect(result.steps.map((s) => s.state)).toEqual(['built', 'built', 'built']);
  expect(await store.provider.listInstances()).toEqual([]);
  // Had the command been re-run on the dirty machine, FLAKY would be in the log twice.
  const inst = await store.provider.startInstance(result.snapshotId, { ttlSeconds: 60 });
  try {
    expect((await store.provider.exec(inst.id, 'cat /root/log')).stdout).toBe(`${m}\nFLAKY\nafter\n`);
  } finally {
    await store.provider.stopInstance(inst.id);
  }
});

test('when the retry budget is spent, the infrastructure failure fails the build and no instance is left', async () => {
  const err = await build({ base: 'host', steps: [`echo ${Date.now()}`, { run: 'echo FLAKY second', retries: 0 }] }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const failure = (err.cause as ActivityFailure).cause as ApplicationFailure;
  expect(failure.type).toBe('ServerError');
  expect(failure.message).toContain('injected');
  expect(await store.provider.listInstances()).toEqual([]);
});
