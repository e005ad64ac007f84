/** The provider contract for the Morph client, against the loopback emulator (backed by a real local store). */
import { MorphProvider } from '../../src/providers/morph';
import type { MorphEmulator } from '../../src/providers/morph-emulator';
import { openMorphTarget, type MorphTarget } from '../helpers/morph';
import { providerContract } from './contract';

let target: MorphTarget;
let emulator: MorphEmulator;
let morph: MorphProvider;

beforeAll(async () => {
  target = await openMorphTarget('test-key-morph-contract', { pollMaxMs: 200 });
  ({ emulator, morph } = target);
});
afterAll(async () => {
  await target?.close();
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
