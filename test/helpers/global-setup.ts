/**
 * Starts one real Temporal dev server (in memory) for the whole test run, or uses SNAPBUILD_TEST_TEMPORAL_ADDRESS.
 * The CLI binary is resolved as the product resolves it (explicit path, PATH, cache, go install).
 */
import { loadConfig } from '../../src/config';
import { resolveTemporalCli, startDevServer, type DevServer } from '../../src/config/devserver';

export default async function globalSetup(): Promise<void> {
  if (process.env.SNAPBUILD_TEST_TEMPORAL_ADDRESS) return;
  const config = loadConfig();
  const cli = await resolveTemporalCli({ explicit: config.temporalCli, cacheDir: config.cacheDir, log: (l) => console.log(l) });
  if (!cli) throw new Error('no Temporal CLI: install Go, put `temporal` on PATH, or set SNAPBUILD_TEMPORAL_CLI');
  const server: DevServer = await startDevServer({ cli });
  (globalThis as { __snapbuildServer?: DevServer }).__snapbuildServer = server;
  process.env.SNAPBUILD_TEST_TEMPORAL_ADDRESS = server.address;
}
