/** A Morph target for tests: a throw-away local store, the emulator over it, and a Morph client pointed at it. */
import { MorphProvider, type MorphProviderOptions } from '../../src/providers/morph';
import { startMorphEmulator, type MorphEmulator } from '../../src/providers/morph-emulator';
import { openTestStore, type TestStore } from './store';

export interface MorphTarget {
  store: TestStore;
  emulator: MorphEmulator;
  morph: MorphProvider;
  close(): Promise<void>;
}

/** Fast polling and short backoffs, so that tests wait on the emulator's delays, not on defaults. */
export async function openMorphTarget(apiKey: string, options: Partial<MorphProviderOptions> = {}): Promise<MorphTarget> {
  const store = await openTestStore();
  const emulator = await startMorphEmulator({ provider: store.provider, apiKey });
  const morph = new MorphProvider({ baseUrl: emulator.url, apiKey, pollMinMs: 50, pollMaxMs: 250, retry: { initialDelayMs: 50, maxDelayMs: 500 }, ...options });
  return {
    store,
    emulator,
    morph,
    async close() {
      await morph.close();
      await emulator.close();
      await store.cleanup();
    },
  };
}
