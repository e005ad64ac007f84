/**
 * Crash: SIGKILL the worker process at random moments during builds and restart it each time. Every build
 * completes; afterwards no instance is running and every digest has exactly one READY snapshot. Then the
 * janitor reaps what a killed worker leaves when its build is gone too.
 *
 * `npm test` kills 3 times; `npm run test:chaos` (CHAOS_KILLS=12) at least 10.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startBuild } from '../../src/client';
import { normalizeRecipe } from '../../src/core/recipe';
import { reapOrphanInstances } from '../../src/janitor';
import { mulberry32 } from '../../src/providers/morph-emulator/faults';
import { lookupPlan } from '../../src/providers/plan';
import { spawnSnapbuild } from '../helpers/cli';
import { openTestStore, type TestStore } from '../helpers/store';

const KILLS = Number(process.env.CHAOS_KILLS ?? 3);
const SEED = Number(process.env.CHAOS_SEED ?? 42);
jest.setTimeout(60_000 + KILLS * 40_000);

let store: TestStore;
let home: string;
let connection: Connection;
let client: Client;
const taskQueue = `chaos-${randomUUID()}`;

beforeAll(async () => {
  store = await openTestStore();
  home = mkdtempSync(path.join(os.tmpdir(), 'snapbuild-chaos-'));
  connection = await Connection.connect({ address: process.env.SNAPBUILD_TEST_TEMPORAL_ADDRESS! });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  await store?.cleanup();
  rmSync(home, { recursive: true, force: true });
});


function startWorker(): Promise<ChildProcess> {
  const worker = spawnSnapbuild(['worker'], {
    TEMPORAL_ADDRESS: process.env.SNAPBUILD_TEST_TEMPORAL_ADDRESS,
    SNAPBUILD_TASK_QUEUE: taskQueue,
    SNAPBUILD_LOCAL_STORE: store.dir,
    SNAPBUILD_HOME: home,
  });
  return new Promise((resolve, reject) => {
    let log = '';
    worker.stderr!.on('data', (d) => {
      log += d;
      if (log.includes('snapbuild worker:')) resolve(worker);
    });
    worker.once('exit', (code) => reject(new Error(`worker exited early (${code}): ${log}`)));
  });
}

async function kill(worker: ChildProcess): Promise<void> {
  const closed = new Promise((r) => worker.once('close', r));
  worker.kill('SIGKILL');
  await closed;
}

async function build(recipe: unknown) {
  const spec = normalizeRecipe(recipe);
  const plan = await lookupPlan(store.provider, spec.base, spec.steps.map((s) => s.identifier));
  return startBuild(client, { spec, plan, taskQueue });
}

test(`builds survive ${KILLS} SIGKILLs of their worker: all complete, nothing leaks, one READY snapshot per digest`, async () => {
  const random = mulberry32(SEED); // the kill moments are the same for a seed
  const m = `k${Date.now()}`;
  const handles = await Promise.all(
    [1, 2, 3].map((b) => build({ base: 'host', steps: Array.from({ length: 6 }, (_, i) => ({ run: `sleep 0.4; echo ${m}-${b}-${i} >> /root/log`, retries: 10 })) })),
  );
  const results = Promise.all(handles.map((h) => h.result()));
  let done = false;
  void results.finally(() => (done = true)).catch(() => undefined);
  let worker = await startWorker();
  let kills = 0;
  while (kills < KILLS) {
    await new Promise((r) => setTimeout(r, 500 + random() * 2500));
    await kill(worker);
    kills++;
    worker = await startWorker();
    if (done && kills < KILLS) {
      // The builds finished first: give the remaining kills a fresh build to interrupt.
      handles.push(await build({ base: 'host', steps: Array.from({ length: 4 }, (_, i) => ({ run: `sleep 0.5; echo ${m}-extra${kills}-${i}`, retries: 10 })) }));
      done = false;
      void handles[handles.length - 1].result().finally(() => (done = true)).catch(() => undefined);
    }
  }
  try {
    const all = await Promise.all(handles.map((h) => h.result()));
    expect(kills).toBe(KILLS);
    for (const r of all) expect(r.steps.every((s) => s.state === 'built' || s.state === 'cached')).toBe(true);
    // Each build's final layer holds every step exactly once: no step ran twice on one machine.
    for (const [b, r] of all.slice(0, 3).entries()) {
      const inst = await store.provider.startInstance(r.snapshotId, { ttlSeconds: 60 });
      try {
        const expected = Array.from({ length: 6 }, (_, i) => `${m}-${b + 1}-${i}`).join('\n') + '\n';
        expect((await store.provider.exec(inst.id, 'cat /root/log')).stdout).toBe(expected);
      } finally {
        await store.provider.stopInstance(inst.id);
      }
    }
    const digests = all.flatMap((r) => r.steps.map((s) => s.digest));
    for (const d of digests) {
      expect((await store.provider.listSnapshots({ digest: d })).filter((s) => s.status === 'ready').length).toBe(1);
    }
    expect(await store.provider.listInstances()).toEqual([]);
  } finally {
    await kill(worker);
  }
});

test('the janitor stops instances a killed worker left behind once their build is gone', async () => {
  const worker = await startWorker();
  const handle = await build({ base: 'host', steps: [`echo ${Date.now()}`, 'sleep 60.75'] });
  for (let i = 0; i < 200 && (await store.provider.listInstances()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  await kill(worker); // no cleanup can run now...
  await handle.terminate('chaos: build abandoned'); // ...and none will: the workflow is gone
  const left = await store.provider.listInstances();
  expect(left.length).toBe(1);
  const dry = await reapOrphanInstances(store.provider, client, { dryRun: true });
  expect(dry.stopped.map((s) => s.instanceId)).toEqual([left[0].id]);
  expect((await store.provider.listInstances()).length).toBe(1);
  const report = await reapOrphanInstances(store.provider, client);
  expect(report.stopped).toEqual([{ instanceId: left[0].id, buildId: handle.workflowId, why: 'its build is terminated' }]);
  expect(await store.provider.listInstances()).toEqual([]);
  expect(spawnSync('pgrep', ['-f', 'sleep 60.75']).status).toBe(1); // its command was killed too
});
