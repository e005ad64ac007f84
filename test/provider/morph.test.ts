/** The provider contract for the Morph client, against the loopback emulator (backed by a real local store). */
import { MorphProvider } from '../../src/providers/morph';
import { startMorphEmulator } from '../../src/providers/morph-emulator';
import { openTestStore, type TestStore } from '../helpers/store';
import { providerContract } from './contract';

const KEY = 'test-key-morph-contract';
let store: TestStore;
let emulator: Awaited<ReturnType<typeof startMorphEmulator>>;
let morph: MorphProvider;

beforeAll(async () => {
  store = await openTestStore();
  emulator = await startMorphEmulator({ provider: store.provider, apiKey: KEY });
  morph = new MorphProvider({ baseUrl: emulator.url, apiKey: KEY, pollMinMs: 50, pollMaxMs: 200 });
});
afterAll(async () => {
  await morph?.close();
  await emulator?.close();
  await store?.cleanup();
});

describe('morph provider (emulator): contract', () => {
  providerContract({ provider: () => morph, base: 'morphvm-minimal' });
});

describe('morph provider (emulator): specifics', () => {
  test('an image base becomes one base snapshot, found again by its digest', async () => {
    const a = await morph.resolveBase('morphvm-minimal');
    const b = await morph.resolveBase('morphvm-minimal');
    expect(a.id).toBe(b.id);
    expect(a).toMatchObject({ status: 'ready', digest: 'snapbuild-image:morphvm-minimal' });
  });

  test('a wrong key is an AuthError naming the variable, not the key', async () => {
    const wrong = new MorphProvider({ baseUrl: emulator.url, apiKey: 'not-the-key' });
    try {
      const err = await wrong.listInstances().catch((e: Error) => e);
      expect(err).toMatchObject({ name: 'AuthError' });
      expect((err as Error).message).toContain('MORPH_API_KEY');
      expect((err as Error).message).not.toContain('not-the-key');
    } finally {
      await wrong.close();
    }
  });

  test('digest lookups for a whole plan run concurrently', async () => {
    emulator.setFaults({ latencyMs: 200 });
    try {
      const digests = Array.from({ length: 8 }, (_, i) => `concurrent-${Date.now()}-${i}`);
      const t0 = Date.now();
      expect((await morph.findReadySnapshots(digests)).size).toBe(0);
      // Eight lookups of 200 ms each, one after another, would take 1.6 s.
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      emulator.setFaults({ latencyMs: 0 });
    }
  });
});
