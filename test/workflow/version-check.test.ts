/**
 * The scheduled version check on a real dev server: a loopback HTTP server serves the release descriptor.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { normalizeRecipe } from '../../src/core/recipe';
import type { ReleaseSource } from '../../src/core/release';
import type { VersionCheckInput } from '../../src/core/types';
import { resolveTag } from '../../src/providers/tags';
import { createVersionSchedule, describeVersionSchedule, listVersionSchedules, scheduleId } from '../../src/schedules';
import { versionCheckWorkflow } from '../../src/workflows';
import { withLostExecResponses } from '../helpers/faults';
import { openTestStore, type TestStore } from '../helpers/store';
import { startTestWorker, type TestTemporal } from '../helpers/temporal';

let store: TestStore;
let temporal: TestTemporal;
let counted: ReturnType<typeof withLostExecResponses>;
let server: Server;
let descriptor: unknown;
let failNext = 0;
let source: ReleaseSource;

beforeAll(async () => {
  store = await openTestStore();
  counted = withLostExecResponses(store.provider, () => false);
  temporal = await startTestWorker(counted);
  server = createServer((_req, res) => {
    if (failNext > 0) {
      failNext--;
      res.writeHead(503).end('busy');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(descriptor));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  source = { url: `http://127.0.0.1:${port}/release.json`, versionField: '/release/version', tarballField: 'release.assets.0.url', allowHttp: true, maxBytes: 65536, timeoutMs: 5000 };
});
afterAll(async () => {
  await temporal?.close();
  await store?.cleanup();
  await new Promise((r) => server?.close(r));
});

const release = (version: string, tarball = `https://example.com/mycli-${version}.tar.gz`) => ({ release: { version, assets: [{ url: tarball }] } });

function input(name: string): VersionCheckInput {
  const spec = normalizeRecipe({
    base: 'host',
    steps: [
      `echo prepare-${name}`,
      { run: 'case {{version}} in 6.6.6) exit 42;; esac', name: 'approved?', outcomes: { 42: 'this version is not approved yet' } },
      'echo {{version}} > /root/version && echo {{tarball}} > /root/tarball',
      'echo after > /root/after',
    ],
  });
  return { name, spec, source };
}

async function check(name: string) {
  return temporal.client.workflow.execute(versionCheckWorkflow, { workflowId: `vc-${name}-${Date.now()}`, taskQueue: temporal.taskQueue, args: [input(name)] });
}
const runs = (fragment: string) => counted.calls.filter((c) => c.includes(fragment)).length;

test('a new version builds and is tagged; the same version is unchanged and starts nothing; a bump reruns only from the templated steps', async () => {
  const name = `tool${Date.now()}`;
  descriptor = release('1.0.0');
  const first = await check(name);
  expect(first).toMatchObject({ outcome: 'built', version: '1.0.0' });
  expect((await resolveTag(store.provider, `${name}:latest`))?.id).toBe(first.snapshotId);
  expect((await resolveTag(store.provider, `${name}:1.0.0`))?.id).toBe(first.snapshotId);
  const inst = await store.provider.startInstance(first.snapshotId!, { ttlSeconds: 60 });
  try {
    expect((await store.provider.exec(inst.id, 'cat /root/version /root/tarball')).stdout).toBe('1.0.0\nhttps://example.com/mycli-1.0.0.tar.gz\n');
  } finally {
    await store.provider.stopInstance(inst.id);
  }

  const calls = counted.calls.length;
  const same = await check(name);
  expect(same).toEqual({ outcome: 'unchanged', version: '1.0.0', digest: first.digest, snapshotId: first.snapshotId });
  expect(counted.calls.length).toBe(calls);

  descriptor = release('1.1.0');
  const bumped = await check(name);
  expect(bumped).toMatchObject({ outcome: 'built', version: '1.1.0' });
  expect(runs(`echo prepare-${name}`)).toBe(1); // the step before the templates was cached
  expect(runs('case 1.1.0 in')).toBe(1);
  expect((await resolveTag(store.provider, `${name}:latest`))?.id).toBe(bumped.snapshotId);
  expect((await resolveTag(store.provider, `${name}:1.0.0`))?.id).toBe(first.snapshotId);
  expect(await store.provider.listInstances()).toEqual([]);
});

test.each([
  ['a version with shell syntax', release('1.0; rm -rf /'), '/release/version', 'is not a version'],
  ['a version that is not a string', { release: { version: 7, assets: [{ url: 'https://x/y' }] } }, '/release/version', 'must be a version string'],
  ['a tarball URL with $(...)', release('2.0.0', 'https://example.com/$(id).tar.gz'), 'release.assets.0.url', 'not allowed'],
  ['a tarball URL with backticks', release('2.0.0', 'https://example.com/`id`.tgz'), 'release.assets.0.url', 'not allowed'],
  ['a plain-http tarball URL', release('2.0.0', 'ftp://example.com/x.tgz'), 'release.assets.0.url', 'must be an https URL'],
])('%s is rejected, naming the field, and nothing runs', async (_label, bad, field, problem) => {
  descriptor = bad;
  const calls = counted.calls.length;
  const err = await check(`bad${Date.now()}`).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const failure = err.cause.cause as ApplicationFailure;
  expect(failure.type).toBe('InvalidReleaseError');
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).toContain(`release descriptor: ${field}: `);
  expect(failure.message).toContain(problem);
  expect(counted.calls.length).toBe(calls);
});

test('a check that exits 42 ends the run as not approved: nothing is tagged, and the next run tries again', async () => {
  const name = `gate${Date.now()}`;
  descriptor = release('1.0.0');
  const good = await check(name);
  descriptor = release('6.6.6');
  const err = await check(name).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const failure = err.cause as ApplicationFailure;
  expect(failure.type).toBe('NotApproved');
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).toMatch(/^version 6\.6\.6 is not approved: this version is not approved yet \(step 1, approved\?, exited with code 42\)/);
  expect(await resolveTag(store.provider, `${name}:6.6.6`)).toBeUndefined();
  expect((await resolveTag(store.provider, `${name}:latest`))?.id).toBe(good.snapshotId);
  expect(await store.provider.listInstances()).toEqual([]);
  const before = runs('case 6.6.6 in');
  await check(name).catch(() => undefined);
  expect(runs('case 6.6.6 in')).toBe(before + 1); // not cached as a success: tried again
});

test('a 5xx from the release server is retried with backoff', async () => {
  descriptor = release('3.0.0');
  failNext = 1;
  await expect(check(`retry${Date.now()}`)).resolves.toMatchObject({ outcome: 'built', version: '3.0.0' });
  expect(failNext).toBe(0);
});

test('schedules: create, list, trigger, describe with the recorded outcome, pause, delete', async () => {
  const name = `sched${Date.now()}`;
  descriptor = release('4.0.0');
  const i = input(name);
  await createVersionSchedule(temporal.client, { name, spec: i.spec, source, taskQueue: temporal.taskQueue, every: '1h' });
  expect((await listVersionSchedules(temporal.client)).map((s) => s.name)).toContain(name);
  const handle = temporal.client.schedule.getHandle(scheduleId(name));
  await handle.trigger();
  let report = await describeVersionSchedule(temporal.client, name);
  for (let n = 0; n < 100 && !(report.runs.length === 1 && report.runs[0].status === 'COMPLETED'); n++) {
    await new Promise((r) => setTimeout(r, 200));
    report = await describeVersionSchedule(temporal.client, name);
  }
  expect(report.spec).toBe('every 1h');
  expect(report.runs).toHaveLength(1);
  expect(report.runs[0].result).toMatchObject({ outcome: 'built', version: '4.0.0' });
  expect(report.nextRuns.length).toBeGreaterThan(0);
  await handle.pause('testing');
  expect(await describeVersionSchedule(temporal.client, name)).toMatchObject({ paused: true, note: 'testing' });
  await handle.delete();
  expect((await listVersionSchedules(temporal.client)).map((s) => s.name)).not.toContain(name);
});
