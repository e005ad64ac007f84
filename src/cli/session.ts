/**
 * Where the CLI's Temporal comes from. With an address configured (TEMPORAL_ADDRESS or a profile, read by
 * @temporalio/envconfig) the CLI is only a client. Without one it runs the embedded default: a dev server whose
 * state lives on disk under the snapbuild home, and an in-process worker beside the client.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { Config } from '../config';
import { resolveTemporalCli, startDevServer, type DevServer, type Log } from '../config/devserver';
import type { Provider } from '../providers/provider';
import { createWorker } from '../worker';
import { UsageError } from './errors';

export interface Session {
  client: Client;
  taskQueue: string;
  namespace: string;
  /** True when this process runs the server and the worker. */
  embedded: boolean;
}

let runtimeInstalled = false;
function installRuntime(): void {
  if (runtimeInstalled) return;
  // The CLI handles Ctrl-C itself (cancel the build, then clean up), so the runtime must not shut workers down.
  Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
  runtimeInstalled = true;
}

/** The configured remote Temporal, or undefined for the embedded default. */
export function remoteTemporal() {
  const profile = loadClientConfigProfile();
  if (!profile.address) return undefined;
  return toClientOptions(profile);
}

/**
 * Runs `fn` with a client. `provider` is needed only in embedded mode, where this process also runs the worker;
 * pass undefined for commands that never execute workflow code (status, cancel).
 */
export async function withSession<T>(config: Config, log: Log, provider: Provider | undefined, fn: (s: Session) => Promise<T>): Promise<T> {
  const remote = remoteTemporal();
  if (remote) {
    const connection = await Connection.connect(remote.connectionOptions);
    const namespace = remote.namespace ?? 'default';
    try {
      return await fn({ client: new Client({ connection, namespace }), taskQueue: config.taskQueue, namespace, embedded: false });
    } finally {
      await connection.close();
    }
  }

  const server = await startEmbeddedServer(config, log);
  try {
    const connection = await Connection.connect({ address: server.address });
    const session: Session = { client: new Client({ connection, namespace: server.namespace }), taskQueue: config.taskQueue, namespace: server.namespace, embedded: true };
    try {
      if (!provider) return await fn(session);
      installRuntime();
      const native = await NativeConnection.connect({ address: server.address });
      try {
        const worker = await createWorker({ connection: native, namespace: server.namespace, taskQueue: config.taskQueue, provider, shutdownSignals: [] });
        return await worker.runUntil(fn(session));
      } finally {
        await native.close();
      }
    } finally {
      await connection.close();
    }
  } finally {
    await server.stop();
  }
}

/**
 * Starts the embedded dev server on the snapbuild home's database. One process at a time may own that
 * database: a second one gets a clear error instead of a corrupted store.
 */
async function startEmbeddedServer(config: Config, log: Log): Promise<DevServer> {
  const dir = path.join(config.homeDir, 'temporal');
  await fs.mkdir(dir, { recursive: true });
  const release = await lockDatabase(path.join(dir, 'dev-server.pid'));
  try {
    const cli = await resolveTemporalCli({ explicit: config.temporalCli, cacheDir: config.cacheDir, log });
    const server = cli ? await startDevServer({ cli, dbFile: path.join(dir, 'dev.db'), log }) : await startSdkDevServer(path.join(dir, 'dev.db'), log);
    return {
      ...server,
      async stop() {
        try {
          await server.stop();
        } finally {
          await release();
        }
      },
    };
  } catch (err) {
    await release();
    throw err;
  }
}

/** Last resort, for machines with internet but no Go: the SDK downloads a dev server. */
async function startSdkDevServer(dbFile: string, log: Log): Promise<DevServer> {
  log('No Temporal CLI and no Go toolchain found: downloading a dev server through the Temporal SDK.');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  installRuntime();
  const port = 7233 + Math.floor(Math.random() * 1000) + 1000;
  const env = await TestWorkflowEnvironment.createLocal({ server: { dbFilename: dbFile, port } });
  return { address: `127.0.0.1:${port}`, namespace: env.namespace ?? 'default', stop: () => env.teardown() };
}

async function lockDatabase(pidFile: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(pidFile, String(process.pid), { flag: 'wx' });
      return () => fs.rm(pidFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new UsageError(
          `another snapbuild process (pid ${pid}) is using the embedded Temporal server; wait for it to finish, ` +
            'or run a shared server (docker compose up, or `temporal server start-dev`) and set TEMPORAL_ADDRESS',
        );
      }
      await fs.rm(pidFile, { force: true }); // left by a process that died
    }
  }
  throw new Error(`cannot lock ${pidFile}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
