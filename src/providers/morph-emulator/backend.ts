/**
 * The emulator's Morph-side state over a real LocalProvider. The local provider holds the filesystem state
 * (layers, instances, commands really run); this class keeps, in memory, what only Morph has: statuses with
 * their ready delays, specs, unix-second `created` plus an insertion counter for stable ordering, TTL fields,
 * replaceable metadata, and the mapping from `morphvm_` ids to local instance ids.
 */
import { randomBytes } from 'node:crypto';
import { NotFoundError } from '../errors';
import { HOST_IMAGE, type LocalProvider } from '../local';
import { sleep } from './faults';
import { HttpError, type ExecJson, type ImageJson, type InstanceJson, type SnapshotJson, type Spec, type TtlAction } from './wire';

/** The one image: the local provider's base image "host". */
export const IMAGE_ID = 'morphvm-minimal';
const DEFAULT_SPEC: Spec = { vcpus: 1, memory: 128, disk_size: 700 };
/** Local TTL of instances that have no Morph TTL (or pause on expiry): insurance against leaks if we crash. */
const LEAK_INSURANCE_SECONDS = 24 * 3600;
/** Local TTL of the short-lived instance used to create a base snapshot. */
const BASE_BUILDER_TTL_SECONDS = 600;

/** Key/value pairs that must all match (metadata[k]=v filters; a repeated key must match every value). */
export type MetadataFilter = readonly (readonly [string, string])[];

export interface BackendOptions {
  provider: LocalProvider;
  instanceReadyDelayMs: number;
  snapshotReadyDelayMs: number;
  /** Extra delay before an exec command starts (fault injection). */
  execDelayMs: () => number;
}

interface SnapshotRecord {
  id: string;
  seq: number;
  /** unix seconds */
  created: number;
  /** unix ms when the snapshot is reported ready */
  readyAt: number;
  spec: Spec;
  imageId: string;
  digest: string | null;
  metadata: Record<string, string>;
}

interface InstanceRecord {
  id: string;
  localId: string;
  seq: number;
  created: number;
  readyAt: number;
  spec: Spec;
  imageId: string;
  snapshotId: string;
  internalIp: string;
  metadata: Record<string, string>;
  ttlSeconds: number | null;
  /** unix ms */
  ttlExpireAt: number | null;
  ttlAction: TtlAction;
  paused: boolean;
  saving: boolean;
}

export class EmulatorBackend {
  private readonly snapshots = new Map<string, SnapshotRecord>();
  private readonly instances = new Map<string, InstanceRecord>();
  /** Base snapshots being created, by digest: concurrent creates with one digest share one snapshot. */
  private readonly creatingBase = new Map<string, Promise<SnapshotRecord>>();
  private seq = 0;
  private readonly startedAt = unixSeconds();

  constructor(private readonly options: BackendOptions) {}

  private get provider(): LocalProvider {
    return this.options.provider;
  }

  /**
   * Lists the store's READY snapshots so that layers built before a restart stay visible. Morph-only fields they
   * never had (spec, image) get the defaults.
   */
  async adoptStoredSnapshots(): Promise<void> {
    const stored = await this.provider.listSnapshots();
    for (const s of stored.reverse()) {
      if (s.status !== 'ready' || this.snapshots.has(s.id)) continue;
      this.addSnapshot({ id: s.id, created: Math.floor(s.createdAt / 1000), readyAt: 0, spec: DEFAULT_SPEC, imageId: IMAGE_ID, digest: s.digest || null, metadata: s.metadata });
    }
  }

  // ---- images -----------------------------------------------------------------------------------------------

  images(): ImageJson[] {
    const description = 'the local provider\'s base image "host": this machine\'s root filesystem, read-only below every instance';
    return [{ id: IMAGE_ID, object: 'image', name: IMAGE_ID, description, disk_size: DEFAULT_SPEC.disk_size * 1024 * 1024, created: this.startedAt }];
  }

  // ---- snapshots --------------------------------------------------------------------------------------------

  /** POST /snapshot: a snapshot of the bare image; an existing snapshot with the same digest is returned instead. */
  async createBaseSnapshot(req: { imageId: string; spec: Spec; digest: string | null; metadata: Record<string, string> }): Promise<SnapshotJson> {
    if (req.imageId !== IMAGE_ID) throw new HttpError(404, `image ${req.imageId} not found`);
    if (req.digest === null) return this.snapshotJson(await this.snapshotImage(req));
    const existing = this.findByDigest(req.digest);
    if (existing) return this.snapshotJson(existing);
    let creating = this.creatingBase.get(req.digest);
    if (!creating) {
      creating = this.snapshotImage(req).finally(() => this.creatingBase.delete(req.digest!));
      this.creatingBase.set(req.digest, creating);
    }
    return this.snapshotJson(await creating);
  }

  listSnapshots(filter: { digest?: string; metadata: MetadataFilter }): SnapshotJson[] {
    return [...this.snapshots.values()]
      .filter((s) => (filter.digest === undefined || s.digest === filter.digest) && matches(s.metadata, filter.metadata))
      .sort(newestFirst)
      .map((s) => this.snapshotJson(s));
  }

  getSnapshot(id: string): SnapshotJson {
    return this.snapshotJson(this.snapshotRecord(id));
  }

  async deleteSnapshot(id: string): Promise<void> {
    this.snapshotRecord(id);
    this.snapshots.delete(id);
    await ignoreNotFound(this.provider.deleteSnapshot(id));
  }

  /** Replaces the metadata (the local record only merges, so keys removed here survive there). */
  async replaceSnapshotMetadata(id: string, metadata: Record<string, string>): Promise<SnapshotJson> {
    const rec = this.snapshotRecord(id);
    rec.metadata = { ...metadata };
    await ignoreNotFound(this.provider.updateSnapshotMetadata(id, metadata));
    return this.snapshotJson(rec);
  }

  // ---- instances --------------------------------------------------------------------------------------------

  /** POST /instance: starts from any snapshot not failed, pending included (instance snapshots are usable at once). */
  async startInstance(snapshotId: string, req: { metadata: Record<string, string>; ttlSeconds: number | null; ttlAction: TtlAction }): Promise<InstanceJson> {
    const snap = this.snapshots.get(snapshotId);
    if (!snap) throw new HttpError(404, `snapshot ${snapshotId} not found`);
    const local = await this.provider.startInstance(snap.id, { ttlSeconds: localTtlSeconds(req.ttlSeconds, req.ttlAction), metadata: req.metadata });
    const now = Date.now();
    const seq = ++this.seq;
    const rec: InstanceRecord = {
      id: `morphvm_${randomBytes(6).toString('hex')}`,
      localId: local.id,
      seq,
      created: unixSeconds(now),
      readyAt: now + this.options.instanceReadyDelayMs,
      spec: { ...snap.spec },
      imageId: snap.imageId,
      snapshotId: snap.id,
      internalIp: `10.200.${Math.floor(seq / 250) % 250}.${(seq % 250) + 2}`,
      metadata: { ...req.metadata },
      ttlSeconds: req.ttlSeconds,
      ttlExpireAt: req.ttlSeconds === null ? null : now + req.ttlSeconds * 1000,
      ttlAction: req.ttlAction,
      paused: false,
      saving: false,
    };
    this.instances.set(rec.id, rec);
    return this.instanceJson(rec);
  }

  async listInstances(filter: { metadata: MetadataFilter }): Promise<InstanceJson[]> {
    const live: InstanceRecord[] = [];
    for (const id of [...this.instances.keys()]) {
      const rec = await this.liveInstance(id).catch(() => undefined);
      if (rec && matches(rec.metadata, filter.metadata)) live.push(rec);
    }
    return live.sort(newestFirst).map((r) => this.instanceJson(r));
  }

  async getInstance(id: string): Promise<InstanceJson> {
    return this.instanceJson(await this.liveInstance(id));
  }

  /** DELETE /instance/{id}: stops and forgets it (404 if unknown or already gone). */
  async stopInstance(id: string): Promise<void> {
    await this.forget(await this.liveInstance(id));
  }

  /** Runs the space-joined command with bash in the instance. A non-zero exit is a result. */
  async exec(id: string, command: readonly string[], signal: AbortSignal): Promise<ExecJson> {
    const rec = this.requireReady(await this.liveInstance(id));
    await sleep(this.options.execDelayMs(), signal);
    const r = await this.provider.exec(rec.localId, command.join(' '), { signal });
    return { exit_code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  /** POST /instance/{id}/snapshot: the digest is stored exactly as given (even "undefined"). */
  async snapshotInstance(id: string, req: { digest: string | null; metadata: Record<string, string> }): Promise<SnapshotJson> {
    const inst = this.requireReady(await this.liveInstance(id));
    inst.saving = true;
    try {
      const local = await this.provider.snapshot(inst.localId, { digest: req.digest ?? '', metadata: req.metadata });
      return this.snapshotJson(this.addSnapshot({ id: local.id, ...this.freshTimes(), spec: inst.spec, imageId: inst.imageId, digest: req.digest, metadata: req.metadata }));
    } finally {
      inst.saving = false;
    }
  }

  async replaceInstanceMetadata(id: string, metadata: Record<string, string>): Promise<InstanceJson> {
    const rec = await this.liveInstance(id);
    rec.metadata = { ...metadata };
    return this.instanceJson(rec);
  }

  /** POST /instance/{id}/ttl: expiry becomes now + ttl (null clears it); the action is kept unless given. */
  async setInstanceTtl(id: string, ttlSeconds: number | null, ttlAction: TtlAction | undefined): Promise<InstanceJson> {
    const rec = await this.liveInstance(id);
    const action = ttlAction ?? rec.ttlAction;
    await this.provider.setInstanceTtl(rec.localId, localTtlSeconds(ttlSeconds, action));
    rec.ttlSeconds = ttlSeconds;
    rec.ttlExpireAt = ttlSeconds === null ? null : Date.now() + ttlSeconds * 1000;
    rec.ttlAction = action;
    return this.instanceJson(rec);
  }

  /** Stops every instance this emulator started. */
  async close(): Promise<void> {
    const all = [...this.instances.values()];
    this.instances.clear();
    await Promise.allSettled(all.map((rec) => this.provider.stopInstance(rec.localId)));
  }

  // ---- internals --------------------------------------------------------------------------------------------

  private async snapshotImage(req: { spec: Spec; digest: string | null; metadata: Record<string, string> }): Promise<SnapshotRecord> {
    const builder = await this.provider.startInstance(HOST_IMAGE, { ttlSeconds: BASE_BUILDER_TTL_SECONDS });
    try {
      const local = await this.provider.snapshot(builder.id, { digest: req.digest ?? '', metadata: req.metadata });
      return this.addSnapshot({ id: local.id, ...this.freshTimes(), spec: req.spec, imageId: IMAGE_ID, digest: req.digest, metadata: req.metadata });
    } finally {
      await this.provider.stopInstance(builder.id);
    }
  }

  private freshTimes(): { created: number; readyAt: number } {
    const now = Date.now();
    return { created: unixSeconds(now), readyAt: now + this.options.snapshotReadyDelayMs };
  }

  private addSnapshot(fields: Omit<SnapshotRecord, 'seq'>): SnapshotRecord {
    const rec: SnapshotRecord = { ...fields, metadata: { ...fields.metadata }, seq: ++this.seq };
    this.snapshots.set(rec.id, rec);
    return rec;
  }

  private findByDigest(digest: string): SnapshotRecord | undefined {
    return [...this.snapshots.values()].sort(newestFirst).find((s) => s.digest === digest);
  }

  private snapshotRecord(id: string): SnapshotRecord {
    const rec = this.snapshots.get(id);
    if (!rec) throw new HttpError(404, `snapshot ${id} not found`);
    return rec;
  }

  /**
   * The instance, after applying its TTL: past expiry, `stop` makes it vanish and `pause` pauses it. An instance
   * the local provider no longer has (stopped elsewhere, reaped) is forgotten. Throws 404 for all of these.
   */
  private async liveInstance(id: string): Promise<InstanceRecord> {
    const rec = this.instances.get(id);
    if (!rec) throw new HttpError(404, `instance ${id} not found`);
    if (rec.ttlExpireAt !== null && rec.ttlExpireAt <= Date.now()) {
      if (rec.ttlAction === 'stop') {
        await this.forget(rec);
        throw new HttpError(404, `instance ${id} not found`);
      }
      rec.paused = true;
    }
    try {
      await this.provider.getInstance(rec.localId);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      this.instances.delete(id);
      throw new HttpError(404, `instance ${id} not found`);
    }
    return rec;
  }

  private requireReady(rec: InstanceRecord): InstanceRecord {
    const status = this.instanceStatus(rec);
    if (status !== 'ready') throw new HttpError(409, `instance ${rec.id} is ${status}, not ready`);
    return rec;
  }

  private async forget(rec: InstanceRecord): Promise<void> {
    this.instances.delete(rec.id);
    await this.provider.stopInstance(rec.localId);
  }

  private instanceStatus(rec: InstanceRecord): InstanceJson['status'] {
    if (rec.paused) return 'paused';
    if (rec.saving) return 'saving';
    return Date.now() < rec.readyAt ? 'pending' : 'ready';
  }

  private snapshotJson(rec: SnapshotRecord): SnapshotJson {
    return {
      id: rec.id,
      object: 'snapshot',
      created: rec.created,
      status: Date.now() < rec.readyAt ? 'pending' : 'ready',
      spec: { ...rec.spec },
      refs: { image_id: rec.imageId },
      digest: rec.digest,
      metadata: { ...rec.metadata },
      ttl: { ttl_seconds: null, ttl_expire_at: null },
    };
  }

  private instanceJson(rec: InstanceRecord): InstanceJson {
    return {
      id: rec.id,
      object: 'instance',
      created: rec.created,
      status: this.instanceStatus(rec),
      spec: { ...rec.spec },
      refs: { snapshot_id: rec.snapshotId, image_id: rec.imageId },
      networking: { internal_ip: rec.internalIp, http_services: [] },
      metadata: { ...rec.metadata },
      ttl: { ttl_seconds: rec.ttlSeconds, ttl_expire_at: rec.ttlExpireAt === null ? null : Math.ceil(rec.ttlExpireAt / 1000), ttl_action: rec.ttlAction },
      wake_on: { wake_on_ssh: false, wake_on_http: false },
    };
  }
}

/**
 * The local provider's TTL for an instance: the Morph TTL when expiry stops it (so the local reaper cleans up
 * too); otherwise long enough that a paused instance outlives its Morph expiry.
 */
function localTtlSeconds(ttlSeconds: number | null, action: TtlAction): number {
  if (ttlSeconds !== null && action === 'stop') return ttlSeconds;
  return (ttlSeconds ?? 0) + LEAK_INSURANCE_SECONDS;
}

function matches(metadata: Record<string, string>, filter: MetadataFilter): boolean {
  return filter.every(([k, v]) => metadata[k] === v);
}

/** Newest first, by `created` (1 s resolution) and then by insertion order. */
function newestFirst(a: { created: number; seq: number }, b: { created: number; seq: number }): number {
  return b.created - a.created || b.seq - a.seq;
}

function unixSeconds(ms = Date.now()): number {
  return Math.floor(ms / 1000);
}

async function ignoreNotFound(work: Promise<unknown>): Promise<void> {
  try {
    await work;
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
}
