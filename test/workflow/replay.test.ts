/**
 * Replay: committed histories of real builds must replay against today's workflow code. A change that breaks
 * determinism fails here, before it reaches a worker with builds in flight.
 *
 * The fixtures are recorded from real runs on the dev server with:
 *   SNAPBUILD_RECORD_HISTORIES=1 npx jest test/workflow/replay
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { startBuild, startFanout } from '../../src/client';
import { normalizeRecipe } from '../../src/core/recipe';
import { lookupPlan, lookupTree } from '../../src/providers/plan';
import { bundleWorkflows } from '../../src/worker';
import { openTestStore } from '../helpers/store';
import { installQuietRuntime, startTestWorker } from '../helpers/temporal';

const dir = path.join(__dirname, '../fixtures/histories');

if (process.env.SNAPBUILD_RECORD_HISTORIES) {
  test('record histories of real builds', async () => {
    const store = await openTestStore();
    const temporal = await startTestWorker(store.provider);
    try {
      const run = async (name: string, recipe: unknown) => {
        const spec = normalizeRecipe(recipe);
        const plan = await lookupPlan(store.provider, spec.base, spec.steps.map((s) => s.identifier));
        const handle = await startBuild(temporal.client, { spec, plan, taskQueue: temporal.taskQueue });
        await handle.result().catch(() => undefined);
        writeFileSync(path.join(dir, `${name}@${handle.workflowId}.json`), historyToJSON(await handle.fetchHistory()) + '\n');
      };
      await run('built', { base: 'host', steps: ['echo one > /root/one', 'echo two > /root/two'] });
      await run('cached-then-built', { base: 'host', steps: ['echo one > /root/one', 'echo three > /root/three'] });
      await run('fully-cached', { base: 'host', steps: ['echo one > /root/one', 'echo two > /root/two'] });
      await run('step-failed', { base: 'host', steps: ['echo one > /root/one', 'exit 4'] });
      await run('tagged', { base: 'host', tag: 'replay:latest', steps: ['echo one > /root/one'] });
      const spec = normalizeRecipe({
        name: 'replay',
        base: 'host',
        steps: ['echo one > /root/one'],
        branches: { a: { steps: ['echo a'] }, b: { steps: ['echo b', 'exit 3'] } },
      });
      const input = { spec: { ...spec, name: 'replay' }, parallel: 2 };
      const fan = await startFanout(temporal.client, { input, tree: await lookupTree(store.provider, spec), taskQueue: temporal.taskQueue });
      await fan.result();
      writeFileSync(path.join(dir, `fanout@${fan.workflowId}.json`), historyToJSON(await fan.fetchHistory()) + '\n');
    } finally {
      await temporal.close();
      await store.cleanup();
    }
  });
}

beforeAll(installQuietRuntime);

const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json'));

// (While recording, the files are listed before they are written: the count is checked on the next run.)
(process.env.SNAPBUILD_RECORD_HISTORIES ? test.skip : test)('there are recorded histories to replay', () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(6);
});

test.each(fixtures)('%s replays deterministically', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
  // The workflow id is part of the file name (`<case>@<workflow id>.json`): child ids derive from it.
  await Worker.runReplayHistory({ workflowBundle: await bundle() }, history, file.slice(file.indexOf('@') + 1, -'.json'.length));
});

let bundled: ReturnType<typeof bundleWorkflows> | undefined;
function bundle() {
  return (bundled ??= bundleWorkflows());
}
