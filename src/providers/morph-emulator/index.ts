/**
 * A loopback Morph Cloud emulator backed by the local provider, with deterministic fault injection. Point a
 * Morph client at `emulator.url` (as MORPH_BASE_URL) with the emulator's API key.
 */
export { startMorphEmulator, type EmulatorOptions, type MorphEmulator } from './server';
export {
  DEFAULT_FAULTS,
  FAULT_ENV,
  FaultConfigError,
  faultsFromEnv,
  parseFaultSettings,
  resolveFaults,
  type FaultConfig,
  type FaultStats,
} from './faults';
export { IMAGE_ID } from './backend';
export type { ExecJson, ImageJson, InstanceJson, ListJson, SnapshotJson, Spec, TtlAction } from './wire';
