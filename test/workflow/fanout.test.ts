/** Fan-out on a real dev server and the local provider: shared prefixes once, branches in parallel, tags. */
import { spawnSync } from 'node:child_process';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { startFanout } from '../../src/client';
import { normalizeRecipe } from '../../src/core/recipe';
import type { FanoutInput } from '../../src/core/types';
import { lookupTree } from '../../src/providers/plan';
import { moveTag, resolveTag } from '../../src/providers/tags';
import { fanoutProgressQuery } from '../../src/workflows/messages';
import { withLostExecResponses } from '../helpers/faults';
import { openTestStore, type TestStore } from '../helpers/store';
import { startTestWorker, type TestTemporal } from '../helpers/temporal';

let store: TestStore;
let temporal: TestTemporal;
let counted: ReturnType<typeof withLostExecResponses>;

beforeAll(async () => {
  store = await openTestStore();
  counted = withLostExecResponses(store.provider, () => false); // records every command, injects nothing
  temporal = await startTestWorker(counted);
});
afterAll(async () => {
  await temporal?.close();
  await store?.cleanup();
});

async function start(recipe: Record<string, unknown>, parallel = 4) {
  const spec = normalizeRecipe({ name: `app${Date.now()}`, ...recipe });
  const input: FanoutInput = { spec: { ...spec, name: spec.name! }, parallel };
  const tree = await lookupTree(store.provider, spec);
  return startFanout(temporal.client, { input, tree, taskQueue: temporal.taskQueue });
}
const runs = (command: string) => counted.calls.filter((c) => c === command).length;

test('three branches: the common prefix runs once, each branch step once; a second fan-out is fully cached', async () => {
  const m = `f${Date.now()}`;
  const recipe = {
    base: 'host',
    steps: [`echo ${m} > /root/common`, `echo two >> /root/common`],
    branches: {
      main: { steps: ['echo {branch} > /root/branch'] },
      'feature/darker-theme': { steps: ['echo {branch} > /root/branch', 'echo dark > /root/theme'] },
      'rollback/v1.3': { steps: [`echo "{{branch}}" > /root/branch`] },
    },
  };
  const first = await (await start(recipe)).result();
  expect(first.branches.map((b) => [b.name, b.state])).toEqual([
    ['main', 'built'],
    ['feature/darker-theme', 'built'],
    ['rollback/v1.3', 'built'],
  ]);
  expect(runs(`echo ${m} > /root/common`)).toBe(1);
  expect(runs(`echo two >> /root/common`)).toBe(1);
  expect(runs(`echo main > /root/branch`)).toBe(1);
  expect(runs(`echo feature/darker-theme > /root/branch`)).toBe(1);
  expect(runs(`echo "'rollback/v1.3'" > /root/branch`)).toBe(0); // quoted: 'rollback/v1.3' is not a plain word
  expect(runs(`echo "rollback/v1.3" > /root/branch`)).toBe(1);

  // Each branch's snapshot carries its tag and metadata, and holds its own state on top of the shared prefix.
  for (const b of first.branches) {
    const snap = await resolveTag(store.provider, b.tag);
    expect(snap?.id).toBe(b.snapshotId);
    expect(snap?.metadata).toMatchObject({ branch: b.name, tag: b.tag });
    const inst = await store.provider.startInstance(b.snapshotId!, { ttlSeconds: 60 });
    try {
      expect((await store.provider.exec(inst.id, 'cat /root/common /root/branch')).stdout).toBe(`${m}\ntwo\n${b.name}\n`);
    } finally {
      await store.provider.stopInstance(inst.id);
    }
  }

  const before = counted.calls.length;
  const second = await (await start(recipe)).result();
  expect(second.branches.map((b) => b.state)).toEqual(['cached', 'cached', 'cached']);
  expect(second.segments.every((s) => s.state === 'cached')).toBe(true);
  expect(counted.calls.length).toBe(before); // nothing ran
  expect(second.branches.map((b) => b.snapshotId)).toEqual(first.branches.map((b) => b.snapshotId));
  expect(await store.provider.listInstances()).toEqual([]);
});

test('branches sharing more than the common steps form a prefix tree: every distinct step runs once', async () => {
  const m = `t${Date.now()}`;
  const result = await (
    await start({
      base: 'host',
      steps: [`echo ${m}`],
      branches: {
        a: { steps: [`echo shared-${m}`, 'echo a'] },
        b: { steps: [`echo shared-${m}`, 'echo b'] },
        c: { steps: ['echo c'] },
        d: { steps: [] },
      },
    })
  ).result();
  expect(result.branches.map((b) => b.state)).toEqual(['built', 'built', 'built', 'built']);
  expect(runs(`echo shared-${m}`)).toBe(1);
  // Segments: the common step (where d ends), shared-a/b, then a, b and c.
  expect(result.segments.map((s) => s.branches.join(','))).toEqual(['a,b,c,d', 'a,b', 'a', 'b', 'c']);
  expect(result.branches.find((b) => b.name === 'd')!.snapshotId).toBe(result.segments[0].snapshotId);
});

test('branches run concurrently: the wall time is well below the sum of the branch times', async () => {
  const m = `p${Date.now()}`;
  const branches = Object.fromEntries(['one', 'two', 'three'].map((b) => [b, { steps: [`sleep 2 # ${m} ${b}`] }]));
  const t0 = Date.now();
  const result = await (await start({ base: 'host', steps: [`echo ${m}`], branches }, 3)).result();
  const wall = Date.now() - t0;
  expect(result.branches.every((b) => b.state === 'built')).toBe(true);
  expect(wall).toBeLessThan(6000 - 1500); // serial: at least 3 x 2 s
});

test('--parallel bounds the child builds running at once', async () => {
  const m = `b${Date.now()}`;
  const branches = Object.fromEntries(['one', 'two', 'three'].map((b) => [b, { steps: [`sleep 1; : ${m} {branch}`] }]));
  const handle = await start({ base: 'host', steps: [`echo ${m}`], branches }, 1);
  let most = 0;
  const t0 = Date.now();
  const done = handle.result();
  let finished = false;
  void done.finally(() => (finished = true));
  while (!finished) {
    const p = await handle.query(fanoutProgressQuery).catch(() => undefined);
    most = Math.max(most, p?.segments.filter((s) => s.state === 'running').length ?? 0);
    await new Promise((r) => setTimeout(r, 50));
  }
  const result = await done;
  expect(result.branches.every((b) => b.state === 'built')).toBe(true);
  expect(most).toBe(1);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(3000); // one at a time: at least 3 x 1 s
});

test('one failing branch leaves the others built and tagged; a failing verify step is "rejected" and keeps the old tag', async () => {
  const m = `x${Date.now()}`;
  const name = `app-${m}`;
  // An earlier good snapshot holds the "checked" branch's tag.
  const inst = await store.provider.startInstance('host', { ttlSeconds: 60 });
  const good = await store.provider.snapshot(inst.id, { digest: `good-${m}` });
  await store.provider.stopInstance(inst.id);
  await moveTag(store.provider, `${name}:checked`, good.id);

  const result = await (
    await start({
      name,
      base: 'host',
      steps: [`echo ${m}`],
      branches: {
        ok1: { steps: ['echo ok1'] },
        broken: { steps: ['echo about to break; exit 9'] },
        ok2: { steps: ['echo ok2'] },
        checked: { steps: ['echo candidate', { run: 'test -e /nonexistent', name: 'smoke test', verify: true }] },
      },
    })
  ).result();
  const by = Object.fromEntries(result.branches.map((b) => [b.name, b]));
  expect(by.ok1.state).toBe('built');
  expect(by.ok2.state).toBe('built');
  expect(by.broken.state).toBe('failed');
  expect(by.broken.error).toMatch(/exited with code 9/);
  expect(by.checked.state).toBe('rejected');
  expect(by.checked.error).toMatch(/^verification failed: step 2 \(smoke test\)/);
  expect((await resolveTag(store.provider, `${name}:ok1`))?.id).toBe(by.ok1.snapshotId);
  expect((await resolveTag(store.provider, `${name}:ok2`))?.id).toBe(by.ok2.snapshotId);
  expect(await resolveTag(store.provider, `${name}:broken`)).toBeUndefined();
  expect((await resolveTag(store.provider, `${name}:checked`))?.id).toBe(good.id);
  expect(await store.provider.listInstances()).toEqual([]);
});

test('cancelling a fan-out cancels every child and leaves no running instance', async () => {
  const m = `c${Date.now()}`;
  const handle = await start({ base: 'host', steps: [`echo ${m}`], branches: { a: { steps: ['sleep 62.5'] }, b: { steps: ['sleep 62.5 # b'] } } });
  for (let i = 0; i < 300; i++) {
    const p = await handle.query(fanoutProgressQuery).catch(() => undefined);
    if (p && p.segments.filter((s) => s.state === 'running').length === 2 && (await store.provider.listInstances()).length === 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect((await store.provider.listInstances()).length).toBe(2);
  await handle.cancel();
  const err = await handle.result().catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toBeInstanceOf(CancelledFailure);
  expect(await store.provider.listInstances()).toEqual([]);
  expect(spawnSync('pgrep', ['-f', 'sleep 62.5']).status).toBe(1);
});
