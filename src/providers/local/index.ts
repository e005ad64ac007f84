/**
 * The local provider: instances are overlay root filesystems on this machine, snapshots are the changed
 * (upper) layers they leave behind. Starting an instance creates three empty directories; a snapshot renames
 * the instance's upper layer into the layer store and gives the instance a fresh one, so neither copies a file.
 *
 * State lives in one JSON record per snapshot and instance (see records.ts), so it survives restarts, a crash
 * mid-write, and several processes (CLI, worker, emulator) sharing one store.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, ServerError, UnsupportedError, ValidationError } from '../errors';
import type { ExecOptions, ExecResult, InstanceInfo, Provider, SnapshotInfo, SnapshotOptions, StartInstanceOptions } from '../provider';
import { readAllJson, readJson, readJsonFiles, removeFile, writeJsonAtomic } from './records';
import { processAlive } from '../../process';
import { ensureHostBase, ensureLayerFs, execInOverlay, killGroup, missingIsolation } from './sandbox';

/** The one named base image: the host's root filesystem, read-only below the instance. */
export const HOST_IMAGE = 'host';

/** A pending snapshot older than this was abandoned by a crashed writer. */
const STALE_PENDING_MS = 10 * 60 * 1000;

interface SnapshotRecord extends SnapshotInfo {
  /** Layer ids, topmost first, above the base image. */
  layers: string[];
  /** The process writing a pending snapshot: if it has died, the snapshot never becomes ready. */
  writerPid?: number;
  image: string;
  parentId?: string;
}

interface InstanceRecord extends InstanceInfo {
  layers: string[];
  image: string;
  /** PID of the process group of a running exec, if any. */
  execPid?: number;
}

export interface LocalProviderOptions {
  /** Where snapshots, layers and instances are kept. */
  storeDir: string;
  /** Size of the sparse ext4 image that holds layers when storeDir shares a filesystem with "/". */
  imageSize?: string;
  /** How often expired instances are reaped in the background (0 = only on calls). */
  reapIntervalMs?: number;
}

export class LocalProvider implements Provider {
  readonly name = 'local';
  private root!: string;
  private baseLowers!: string[];
  private readonly locks = new Map<string, Promise<unknown>>();
  private reaper?: NodeJS.Timeout;

  private constructor(private readonly options: LocalProviderOptions) {}

  /** Opens (creating when needed) a store. Refuses, naming what is missing, where commands cannot be isolated. */
  static async open(options: LocalProviderOptions): Promise<LocalProvider> {
    const missing = missingIsolation();
    if (missing) throw new UnsupportedError(missing);
    const provider = new LocalProvider(options);
    provider.root = await ensureLayerFs(path.resolve(options.storeDir), options.imageSize ?? '64G');
    for (const dir of ['layers', 'instances', 'trash', 'records/snapshots', 'records/instances']) {
      await fs.mkdir(path.join(provider.root, dir), { recursive: true });
    }
    provider.baseLowers = await ensureHostBase(provider.root);
    await provider.emptyTrash();
    if (options.reapIntervalMs) {
      provider.reaper = setInterval(() => void provider.reapExpired().catch(() => undefined), options.reapIntervalMs);
      provider.reaper.unref();
    }
    return provider;
  }

  /** The directory holding layers and records (the mounted image when one is used). */
  get layerRoot(): string {
    return this.root;
  }

  async close(): Promise<void> {
    if (this.reaper) clearInterval(this.reaper);
  }

  // ---- snapshots -------------------------------------------------------------------------------------------

  async resolveBase(base: string): Promise<SnapshotInfo> {
    if (base === HOST_IMAGE) return hostSnapshot();
    return this.getSnapshot(base);
  }

  async getSnapshot(id: string): Promise<SnapshotInfo> {
    return publicSnapshot(await this.snapshotRecord(id));
  }

  /** Reads only the records the digest index names, so a lookup costs the same however large the store. */
  async findReadySnapshots(digests: readonly string[]): Promise<Map<string, SnapshotInfo>> {
    const found = new Map<string, SnapshotInfo>();
    for (const digest of new Set(digests)) {
      const ready = (await this.snapshotsWithDigest(digest)).find((s) => s.status === 'ready');
      if (ready) found.set(digest, publicSnapshot(ready));
    }
    return found;
  }

  async listSnapshots(filter: { digest?: string; metadata?: Record<string, string> } = {}): Promise<SnapshotInfo[]> {
    const candidates = filter.digest !== undefined ? await this.snapshotsWithDigest(filter.digest) : await this.allSnapshots();
    return candidates.filter((s) => matches(s.metadata, filter.metadata)).map(publicSnapshot);
  }

  async updateSnapshotMetadata(id: string, patch: Record<string, string>): Promise<SnapshotInfo> {
    return this.withLock(id, async () => {
      const rec = await this.snapshotRecord(id);
      rec.metadata = { ...rec.metadata, ...patch };
      await writeJsonAtomic(this.snapshotFile(id), rec);
      return publicSnapshot(rec);
    });
  }

  async deleteSnapshot(id: string): Promise<void> {
    await this.snapshotRecord(id);
    // Layers are shared by every descendant snapshot, so only the record goes; the layer stays for them.
    await removeFile(this.snapshotFile(id));
  }

  /** Local snapshots are READY when `snapshot` returns; a pending one belongs to a writer still at work. */
  async waitForSnapshot(id: string, signal?: AbortSignal): Promise<SnapshotInfo> {
    for (;;) {
      const snap = await this.getSnapshot(id);
      if (snap.status === 'ready') return snap;
      if (snap.status !== 'pending') throw new ServerError(`snapshot ${id} is ${snap.status}`, false);
      if (signal?.aborted) throw signal.reason;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  // ---- instances -------------------------------------------------------------------------------------------

  async startInstance(snapshotId: string, options: StartInstanceOptions): Promise<InstanceInfo> {
    const snap = snapshotId === HOST_IMAGE ? hostRecord() : await this.snapshotRecord(snapshotId);
    if (snap.status !== 'ready') throw new ConflictError(`snapshot ${snapshotId} is ${snap.status}, not ready`);
    if (!(options.ttlSeconds > 0)) throw new ValidationError('ttlSeconds must be positive');
    void this.reapExpired().catch(() => undefined);
    const id = `localvm_${randomBytes(8).toString('hex')}`;
    const dir = this.instanceDir(id);
    for (const sub of ['upper', 'work', 'merged']) await fs.mkdir(path.join(dir, sub), { recursive: true });
    const now = Date.now();
    const rec: InstanceRecord = {
      id,
      snapshotId,
      status: 'ready',
      createdAt: now,
      ttlExpireAt: now + options.ttlSeconds * 1000,
      metadata: { ...options.metadata },
      layers: snap.layers,
      image: snap.image,
    };
    await writeJsonAtomic(this.instanceFile(id), rec);
    return publicInstance(rec);
  }

  async getInstance(id: string): Promise<InstanceInfo> {
    return publicInstance(await this.instanceRecord(id));
  }

  async listInstances(filter: { metadata?: Record<string, string> } = {}): Promise<InstanceInfo[]> {
    await this.reapExpired();
    const all = await readAllJson<InstanceRecord>(path.join(this.root, 'records/instances'));
    return all.filter((i) => matches(i.metadata, filter.metadata)).sort(newestFirst).map(publicInstance);
  }

  async exec(instanceId: string, command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return this.withLock(instanceId, async () => {
      const rec = await this.instanceRecord(instanceId);
      const dir = this.instanceDir(instanceId);
      try {
        await fs.access(path.join(dir, 'upper'));
      } catch {
        throw new ServerError(`instance ${instanceId} lost its state (interrupted snapshot); start a new one`, false);
      }
      const pidFile = (execPid?: number) => writeJsonAtomic(this.instanceFile(instanceId), { ...rec, execPid });
      return execInOverlay(
        {
          layerRoot: this.root,
          lowers: [...rec.layers.map((l) => `layers/${l}`), ...this.lowersOf(rec.image)],
          upper: path.join(dir, 'upper'),
          work: path.join(dir, 'work'),
          merged: path.join(dir, 'merged'),
        },
        command,
        // The PID is recorded so that a stop from another process can kill a running command.
        { ...options, onPid: (pid) => void pidFile(pid).catch(() => undefined) },
      ).finally(() => pidFile(undefined).catch(() => undefined));
    });
  }

  async snapshot(instanceId: string, options: SnapshotOptions): Promise<SnapshotInfo> {
    return this.withLock(instanceId, async () => {
      const inst = await this.instanceRecord(instanceId);
      const id = `snapshot_${randomBytes(8).toString('hex')}`;
      const dir = this.instanceDir(instanceId);
      const layers = [id, ...inst.layers];
      const rec: SnapshotRecord = {
        id,
        digest: options.digest,
        status: 'pending',
        createdAt: Date.now(),
        metadata: { ...options.metadata },
        layers,
        image: inst.image,
        parentId: inst.snapshotId,
        writerPid: process.pid,
      };
      // Order matters for crash safety: a pending record first, then the O(1) rename of the upper layer into
      // the store, then the instance's new stack, and READY last. A crash leaves a pending record (never
      // counted as a cache hit) and at worst an instance whose exec refuses to run.
      await writeJsonAtomic(this.snapshotFile(id), rec);
      await this.indexDigest(options.digest, id);
      await fs.rename(path.join(dir, 'upper'), path.join(this.root, 'layers', id));
      await writeJsonAtomic(this.instanceFile(instanceId), { ...inst, layers, snapshotId: id, execPid: undefined });
      await fs.rm(path.join(dir, 'work'), { recursive: true, force: true });
      await fs.mkdir(path.join(dir, 'work'));
      await fs.mkdir(path.join(dir, 'upper'));
      rec.status = 'ready';
      await writeJsonAtomic(this.snapshotFile(id), rec);
      return publicSnapshot(rec);
    });
  }

  async setInstanceTtl(id: string, ttlSeconds: number): Promise<InstanceInfo> {
    if (!(ttlSeconds > 0)) throw new ValidationError('ttlSeconds must be positive');
    return this.withLock(id, async () => {
      const rec = await this.instanceRecord(id);
      rec.ttlExpireAt = Date.now() + ttlSeconds * 1000;
      await writeJsonAtomic(this.instanceFile(id), rec);
      return publicInstance(rec);
    });
  }

  async stopInstance(id: string): Promise<void> {
    const rec = await readJson<InstanceRecord>(this.instanceFile(id));
    if (rec?.execPid) killGroup(rec.execPid);
    // Move the directory aside first (atomic), then forget the record, then delete: a crash at any point
    // leaves either a stoppable instance or garbage in trash/ that the next open removes.
    const trash = path.join(this.root, 'trash', `${id}-${randomBytes(4).toString('hex')}`);
    await fs.rename(this.instanceDir(id), trash).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await removeFile(this.instanceFile(id));
    await fs.rm(trash, { recursive: true, force: true });
  }

  /** Stops every instance whose TTL has passed. Returns their ids. */
  async reapExpired(now = Date.now()): Promise<string[]> {
    const all = await readAllJson<InstanceRecord>(path.join(this.root, 'records/instances'));
    const expired = all.filter((i) => i.ttlExpireAt !== undefined && i.ttlExpireAt <= now).map((i) => i.id);
    for (const id of expired) await this.stopInstance(id);
    return expired;
  }

  // ---- internals -------------------------------------------------------------------------------------------

  private lowersOf(image: string): string[] {
    if (image !== HOST_IMAGE) throw new ServerError(`unknown base image ${image}`, false);
    return this.baseLowers;
  }

  private snapshotFile(id: string): string {
    return path.join(this.root, 'records/snapshots', `${safeId(id)}.json`);
  }
  private instanceFile(id: string): string {
    return path.join(this.root, 'records/instances', `${safeId(id)}.json`);
  }
  private instanceDir(id: string): string {
    return path.join(this.root, 'instances', safeId(id));
  }

  private async snapshotRecord(id: string): Promise<SnapshotRecord> {
    if (id === HOST_IMAGE) return hostRecord();
    const rec = await readJson<SnapshotRecord>(this.snapshotFile(id));
    if (!rec) throw new NotFoundError(`snapshot ${id} not found`);
    return settle(rec);
  }

  private async instanceRecord(id: string): Promise<InstanceRecord> {
    const rec = await readJson<InstanceRecord>(this.instanceFile(id));
    if (!rec) throw new NotFoundError(`instance ${id} not found`);
    if (rec.ttlExpireAt !== undefined && rec.ttlExpireAt <= Date.now()) {
      await this.stopInstance(id);
      throw new NotFoundError(`instance ${id} not found (its TTL expired)`);
    }
    return rec;
  }

  /** The digest index: `records/by-digest/<sha256 of digest>/<snapshot id>`, written after the record. */
  private digestDir(digest: string): string {
    return path.join(this.root, 'records', 'by-digest', createHash('sha256').update(digest).digest('hex'));
  }

  private async indexDigest(digest: string, id: string): Promise<void> {
    const dir = this.digestDir(digest);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, id), '');
  }

  /** Snapshots with exactly this digest, newest first (index entries whose record is gone are skipped). */
  private async snapshotsWithDigest(digest: string): Promise<SnapshotRecord[]> {
    let ids: string[];
    try {
      ids = await fs.readdir(this.digestDir(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const records = await readJsonFiles<SnapshotRecord>(ids.map((id) => this.snapshotFile(id)));
    return records.filter((r) => r.digest === digest).map(settle).sort(newestFirst);
  }

  private async allSnapshots(): Promise<SnapshotRecord[]> {
    return (await readAllJson<SnapshotRecord>(path.join(this.root, 'records/snapshots'))).map(settle).sort(newestFirst);
  }

  private async emptyTrash(): Promise<void> {
    const trash = path.join(this.root, 'trash');
    for (const name of await fs.readdir(trash)) await fs.rm(path.join(trash, name), { recursive: true, force: true });
  }

  /** Serialises calls on one object within this process. */
  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.locks.set(key, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(key) === next) this.locks.delete(key);
    }
  }
}

function safeId(id: string): string {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(id) || id.startsWith('.')) throw new NotFoundError(`no such object: ${JSON.stringify(id)}`);
  return id;
}

function hostRecord(): SnapshotRecord {
  return { ...hostSnapshot(), layers: [], image: HOST_IMAGE };
}

function hostSnapshot(): SnapshotInfo {
  return { id: HOST_IMAGE, digest: null, status: 'ready', createdAt: 0, metadata: { image: HOST_IMAGE } };
}

/** A pending record abandoned by a crashed writer (dead, or silent for too long) is reported as failed. */
function settle(rec: SnapshotRecord): SnapshotRecord {
  if (rec.status !== 'pending') return rec;
  if (Date.now() - rec.createdAt > STALE_PENDING_MS || (rec.writerPid !== undefined && !processAlive(rec.writerPid))) return { ...rec, status: 'failed' };
  return rec;
}

function matches(metadata: Record<string, string>, filter?: Record<string, string>): boolean {
  return Object.entries(filter ?? {}).every(([k, v]) => metadata[k] === v);
}

function newestFirst(a: { createdAt: number; id: string }, b: { createdAt: number; id: string }): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1);
}

function publicSnapshot(r: SnapshotRecord): SnapshotInfo {
  return { id: r.id, digest: r.digest, status: r.status, createdAt: r.createdAt, metadata: r.metadata };
}

function publicInstance(r: InstanceRecord): InstanceInfo {
  return { id: r.id, snapshotId: r.snapshotId, status: r.status, createdAt: r.createdAt, ttlExpireAt: r.ttlExpireAt, metadata: r.metadata };
}
