/** Chooses the provider from configuration. The only place that names concrete providers. */
import type { Config } from '../config';
import { UnsupportedError } from './errors';
import { LocalProvider } from './local';
import type { Provider } from './provider';

export async function createProvider(config: Config, opts: { reapIntervalMs?: number } = {}): Promise<Provider> {
  switch (config.provider) {
    case 'local':
      return LocalProvider.open({ storeDir: config.localStoreDir, imageSize: config.localImageSize, reapIntervalMs: opts.reapIntervalMs });
    case 'morph':
      throw new UnsupportedError('the morph provider is not available in this version (SNAPBUILD_PROVIDER=morph)');
  }
}
