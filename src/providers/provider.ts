/**
 * The one interface every backend implements. Activities receive a Provider by injection and never import a
 * concrete one.
 */

export type SnapshotStatus = 'pending' | 'ready' | 'failed' | 'deleting' | 'deleted';
export type InstanceStatus = 'pending' | 'ready' | 'paused' | 'saving' | 'error';

export interface SnapshotInfo {
  id: string;
  digest: string | null;
  status: SnapshotStatus;
  /** Unix milliseconds. */
  createdAt: number;
  metadata: Record<string, string>;
}

export interface InstanceInfo {
  id: string;
  snapshotId: string;
  status: InstanceStatus;
  /** Unix milliseconds. */
  createdAt: number;
  /** Unix milliseconds when the provider stops the instance by itself, if a TTL is set. */
  ttlExpireAt?: number;
  metadata: Record<string, string>;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Environment for the command (on top of a minimal default). */
  env?: Record<string, string>;
  /** Kill the command after this long; the call then fails with ProviderTimeoutError. */
  timeoutMs?: number;
  /** Aborting kills the command. */
  signal?: AbortSignal;
  /** Called with output as it arrives, when the backend can stream. */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
}

export interface StartInstanceOptions {
  /** The provider stops the instance by itself after this many seconds: insurance against leaks. */
  ttlSeconds: number;
  metadata?: Record<string, string>;
  signal?: AbortSignal;
}

export interface SnapshotOptions {
  digest: string;
  metadata?: Record<string, string>;
  signal?: AbortSignal;
}

export interface Provider {
  readonly name: string;
  /** Resolves a recipe's `base`: a snapshot id, or a named base image of this provider. */
  resolveBase(base: string, signal?: AbortSignal): Promise<SnapshotInfo>;
  getSnapshot(id: string, signal?: AbortSignal): Promise<SnapshotInfo>;
  /**
   * Looks all digests up at once (one batched or concurrent round). The map holds, for each digest that has
   * one, the newest READY snapshot.
   */
  findReadySnapshots(digests: readonly string[], signal?: AbortSignal): Promise<Map<string, SnapshotInfo>>;
  /** Snapshots whose metadata has every given key/value, newest first. */
  listSnapshots(filter?: { digest?: string; metadata?: Record<string, string> }, signal?: AbortSignal): Promise<SnapshotInfo[]>;
  /** Merges `patch` into the snapshot's metadata. */
  updateSnapshotMetadata(id: string, patch: Record<string, string>, signal?: AbortSignal): Promise<SnapshotInfo>;
  deleteSnapshot(id: string, signal?: AbortSignal): Promise<void>;
  /** Waits until the snapshot is READY; a snapshot that failed is an error. */
  waitForSnapshot(id: string, signal?: AbortSignal): Promise<SnapshotInfo>;
  /** Starts an instance and waits until it is ready. */
  startInstance(snapshotId: string, options: StartInstanceOptions): Promise<InstanceInfo>;
  getInstance(id: string, signal?: AbortSignal): Promise<InstanceInfo>;
  listInstances(filter?: { metadata?: Record<string, string> }, signal?: AbortSignal): Promise<InstanceInfo[]>;
  /** Runs `command` with bash inside the instance. A non-zero exit is a result, not an error. */
  exec(instanceId: string, command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Snapshots the instance's current state under `digest` and waits until the snapshot is READY. */
  snapshot(instanceId: string, options: SnapshotOptions): Promise<SnapshotInfo>;
  /** Sets the instance to stop by itself `ttlSeconds` from now. */
  setInstanceTtl(id: string, ttlSeconds: number, signal?: AbortSignal): Promise<InstanceInfo>;
  /** Stops and deletes the instance. Stopping an instance that is already gone succeeds. */
  stopInstance(id: string, signal?: AbortSignal): Promise<void>;
  /** Releases resources held by this process (timers, connections). */
  close(): Promise<void>;
}
