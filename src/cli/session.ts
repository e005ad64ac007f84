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
import { processAlive } from '../process';
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
  const shared = remote ? undefined : await sharedEmbeddedServer(config);
  if (remote || shared) {
    const address = remote ? remote.connectionOptions.address ?? 'localhost:7233' : shared!.address;
    const connection = await Connection.connect(remote ? remote.connectionOptions : { address }).catch((err: Error) => {
      throw new Error(`cannot reach the Temporal server at ${address}${remote ? ' (TEMPORAL_ADDRESS or profile)' : ''}: ${err.message}`);
    });
    const namespace = remote?.namespace ?? 'default';
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
 * `snapbuild worker` with no Temporal address: the embedded server and a worker, running until SIGINT or
 * SIGTERM, so that schedules fire. Other snapbuild commands find it (through the lock file) and use it as a
 * client would a shared server.
 */
export async function serveEmbedded(config: Config, log: Log, provider: Provider): Promise<void> {
  const server = await startEmbeddedServer(config, log, { shared: true });
  try {
    installRuntime();
    const native = await NativeConnection.connect({ address: server.address });
    try {
      const worker = await createWorker({ connection: native, namespace: server.namespace, taskQueue: config.taskQueue, provider, shutdownSignals: [] });
      log(`snapbuild worker: embedded Temporal server on ${server.address} (state in ${embeddedPaths(config).dir}), provider ${provider.name}`);
      log('other snapbuild commands use this server while it runs; schedules fire; Ctrl-C stops');
      const stop = new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await worker.runUntil(stop);
    } finally {
      await native.close();
    }
  } finally {
    await server.stop({ wait: true });
  }
}

/** Where the embedded server keeps its database, log and lock. */
function embeddedPaths(config: Config) {
  const dir = path.join(config.homeDir, 'temporal');
  return { dir, lock: path.join(dir, 'dev-server.lock'), db: path.join(dir, 'dev.db'), log: path.join(dir, 'dev-server.log') };
}

/** The embedded server a running `snapbuild worker` shares, if there is one. */
async function sharedEmbeddedServer(config: Config): Promise<{ address: string } | undefined> {
  const owner = await readLock(embeddedPaths(config).lock);
  return owner?.shared && owner.address && owner.cli && processAlive(owner.cli) ? { address: owner.address } : undefined;
}

interface LockOwner {
  cli?: number;
  server?: number;
  address?: string;
  shared?: boolean;
}

async function readLock(lock: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await fs.readFile(lock, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

/**
 * Starts the embedded dev server on the snapbuild home's database. One process at a time owns that database:
 * a second one gets a clear error instead of a corrupted store. The lock file names the owning CLI and its
 * server; a server still shutting down after its CLI has gone is waited for, never run beside.
 */
async function startEmbeddedServer(config: Config, log: Log, opts: { shared?: boolean } = {}): Promise<DevServer> {
  const { dir, lock, db, log: logFile } = embeddedPaths(config);
  await fs.mkdir(dir, { recursive: true });
  await acquireLock(lock);
  try {
    const cli = await resolveTemporalCli({ explicit: config.temporalCli, cacheDir: config.cacheDir, log });
    if (!cli) {
      const server = await startSdkDevServer(db, log);
      return { ...server, stop: () => server.stop().finally(() => fs.rm(lock, { force: true })) };
    }
    const server = await startDevServer({ cli, dbFile: db, logFile });
    const owner: LockOwner = { cli: process.pid, server: server.pid, address: server.address, shared: opts.shared };
    await fs.writeFile(lock, JSON.stringify(owner));
    return {
      ...server,
      // Not waiting for the server's graceful shutdown saves about a second per command; the lock keeps the
      // next command off the database until this server has exited.
      stop: async (o) => {
        await server.stop(o ?? { wait: false });
        if (o?.wait) await fs.rm(lock, { force: true });
      },
    };
  } catch (err) {
    await fs.rm(lock, { force: true });
    throw err;
  }
}

async function acquireLock(lock: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await fs.writeFile(lock, JSON.stringify({ cli: process.pid }), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner: LockOwner = (await readLock(lock)) ?? {};
    if (owner.cli && owner.cli !== process.pid && processAlive(owner.cli)) {
      throw new UsageError(
        `another snapbuild process (pid ${owner.cli}) is using the embedded Temporal server; wait for it to finish, ` +
          'or run a shared server (docker compose up, or `temporal server start-dev`) and set TEMPORAL_ADDRESS',
      );
    }
    if (owner.server && processAlive(owner.server)) {
      if (Date.now() > deadline) {
        throw new UsageError(`a previous embedded Temporal server (pid ${owner.server}) is still running after its snapbuild exited; stop it, then retry`);
      }
      await new Promise((r) => setTimeout(r, 50)); // the previous server is still shutting down
      continue;
    }
    await fs.rm(lock, { force: true });
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
