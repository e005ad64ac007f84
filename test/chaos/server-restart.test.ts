/** Server restart: the Temporal dev server (state on disk) is stopped and started again in the middle of a build. */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { startBuild } from '../../src/client';
import { loadConfig } from '../../src/config';
import { resolveTemporalCli, startDevServer, type DevServer } from '../../src/config/devserver';
import { normalizeRecipe } from '../../src/core/recipe';
import { lookupPlan } from '../../src/providers/plan';
import { progressQuery } from '../../src/workflows/messages';
import { bundleWorkflows, createWorker } from '../../src/worker';
import { openTestStore, type TestStore } from '../helpers/store';
import { installQuietRuntime } from '../helpers/temporal';

let store: TestStore;
let dir: string;

beforeAll(async () => {
  installQuietRuntime();
  store = await openTestStore();
  dir = mkdtempSync(path.join(os.tmpdir(), 'snapbuild-restart-'));
});
afterAll(async () => {
  await store?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('a build survives a restart of the Temporal server in its middle', async () => {
  const config = loadConfig();
  const cli = (await resolveTemporalCli({ explicit: config.temporalCli, cacheDir: config.cacheDir, log: () => undefined }))!;
  const dbFile = path.join(dir, 'temporal.db');
  let server: DevServer & { pid: number } = await startDevServer({ cli, dbFile });
  const port = Number(server.address.split(':')[1]);
  const native = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const worker = await createWorker({ connection: native, namespace: 'default', taskQueue: `restart-${Date.now()}`, provider: store.provider, workflowBundle: await bundleWorkflows() });
  const running = worker.run();
  try {
    const spec = normalizeRecipe({ base: 'host', steps: [`echo ${Date.now()}`, 'sleep 1.5', 'sleep 1.5', 'echo done > /root/done'] });
    const plan = await lookupPlan(store.provider, spec.base, spec.steps.map((s) => s.identifier));
    const handle = await startBuild(client, { spec, plan, taskQueue: worker.options.taskQueue });
    for (let i = 0; i < 100; i++) {
      const p = await handle.query(progressQuery).catch(() => undefined);
      if (p?.steps[1].state === 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await server.stop({ wait: true });
    await new Promise((r) => setTimeout(r, 1000));
    server = await startDevServer({ cli, dbFile, port });
    const result = await handle.result();
    expect(result.steps.map((s) => s.state)).toEqual(['built', 'built', 'built', 'built']);
    expect(await store.provider.listInstances()).toEqual([]);
  } finally {
    worker.shutdown();
    await running.catch(() => undefined);
    await native.close();
    await connection.close();
    await server.stop({ wait: true });
  }
});
