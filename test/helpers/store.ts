/** Throw-away local stores for tests: each on its own loop-mounted image, unmounted and removed afterwards. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalProvider } from '../../src/providers/local';

export interface TestStore {
  dir: string;
  provider: LocalProvider;
  cleanup(): Promise<void>;
}

export async function openTestStore(): Promise<TestStore> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'snapbuild-test-'));
  const provider = await LocalProvider.open({ storeDir: dir, imageSize: '8G' });
  return {
    dir,
    provider,
    async cleanup() {
      await provider.close();
      for (const inst of await provider.listInstances()) await provider.stopInstance(inst.id);
      if (provider.layerRoot !== dir) execFileSync('umount', ['-l', provider.layerRoot]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
