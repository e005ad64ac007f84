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
import { startBuild } from '../../src/client';
import { normalizeRecipe } from '../../src/core/recipe';
import { lookupPlan } from '../../src/providers/plan';
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
        writeFileSync(path.join(dir, `${name}.json`), historyToJSON(await handle.fetchHistory()) + '\n');
      };
      await run('built', { base: 'host', steps: ['echo one > /root/one', 'echo two > /root/two'] });
      await run('cached-then-built', { base: 'host', steps: ['echo one > /root/one', 'echo three > /root/three'] });
      await run('fully-cached', { base: 'host', steps: ['echo one > /root/one', 'echo two > /root/two'] });
      await run('step-failed', { base: 'host', steps: ['echo one > /root/one', 'exit 4'] });
    } finally {
      await temporal.close();
      await store.cleanup();
    }
  });
}

beforeAll(installQuietRuntime);

const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json'));

test('there are recorded histories to replay', () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(4);
});

test.each(fixtures)('%s replays deterministically', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
  await Worker.runReplayHistory({ workflowBundle: await bundle() }, history, `replay-${file}`);
});

let bundled: ReturnType<typeof bundleWorkflows> | undefined;
function bundle() {
  return (bundled ??= bundleWorkflows());
}
