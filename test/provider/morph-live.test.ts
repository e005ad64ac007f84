/**
 * The provider contract against live Morph Cloud. Opt-in: it starts real (billed) machines.
 *   MORPH_API_KEY=... SNAPBUILD_LIVE_MORPH=1 [SNAPBUILD_LIVE_MORPH_BASE=snapshot_... or an image id] npm test
 */
import { MorphProvider } from '../../src/providers/morph';
import { providerContract } from './contract';

const live = Boolean(process.env.MORPH_API_KEY && process.env.SNAPBUILD_LIVE_MORPH === '1');

(live ? describe : describe.skip)('morph provider (live Morph Cloud): contract [skipped unless MORPH_API_KEY and SNAPBUILD_LIVE_MORPH=1]', () => {
  let morph: MorphProvider;
  beforeAll(() => {
    morph = new MorphProvider({ baseUrl: process.env.MORPH_BASE_URL ?? 'https://cloud.morph.so/api', apiKey: process.env.MORPH_API_KEY! });
  });
  afterAll(async () => {
    await morph?.close();
  });
  providerContract({ provider: () => morph, base: process.env.SNAPBUILD_LIVE_MORPH_BASE ?? 'morphvm-minimal' });
});
