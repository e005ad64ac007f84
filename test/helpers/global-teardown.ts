import type { DevServer } from '../../src/config/devserver';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __snapbuildServer?: DevServer }).__snapbuildServer?.stop();
}
