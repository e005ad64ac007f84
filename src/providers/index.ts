/** Chooses the provider from configuration. The only place that names concrete providers. */
import { ConfigError, type Config } from '../config';
import { LocalProvider } from './local';
import { MorphProvider } from './morph';
import type { Provider } from './provider';

export async function createProvider(config: Config, opts: { reapIntervalMs?: number } = {}): Promise<Provider> {
  switch (config.provider) {
    case 'local':
      return LocalProvider.open({ storeDir: config.localStoreDir, imageSize: config.localImageSize, reapIntervalMs: opts.reapIntervalMs });
    case 'morph':
      if (!config.morph.apiKey) throw new ConfigError('MORPH_API_KEY is not set; SNAPBUILD_PROVIDER=morph needs a Morph Cloud API key');
      return new MorphProvider({ baseUrl: config.morph.baseUrl, apiKey: config.morph.apiKey });
  }
}
