/** What every command may need, created lazily so that `digest` and `--help` touch nothing. */
import { loadConfig, type Config } from '../config';
import { createProvider } from '../providers';
import type { Provider } from '../providers/provider';

export interface Context {
  config(): Config;
  provider(): Promise<Provider>;
  /** Progress and notices go to stderr; stdout is for results. */
  log(line: string): void;
  close(): Promise<void>;
}

export function createContext(): Context {
  let config: Config | undefined;
  let provider: Promise<Provider> | undefined;
  const ctx: Context = {
    config: () => (config ??= loadConfig()),
    provider: () => (provider ??= createProvider(ctx.config(), { reapIntervalMs: 30_000 })),
    log: (line) => process.stderr.write(line + '\n'),
    async close() {
      if (provider) await (await provider.catch(() => undefined))?.close();
    },
  };
  return ctx;
}
