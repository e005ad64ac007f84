/** The Morph emulator's wire contract, over raw HTTP, backed by a throw-away local store. */
import { request } from 'undici';
import { faultsFromEnv, startMorphEmulator, type MorphEmulator } from '../../src/providers/morph-emulator';
import { openTestStore, type TestStore } from '../helpers/store';

const KEY = 'test-key-emulator';

let store: TestStore;
let emulator: MorphEmulator;
/** A base snapshot made with POST /snapshot, shared by the tests. */
let base: { id: string; spec: unknown };

beforeAll(async () => {
  store = await openTestStore();
  emulator = await startMorphEmulator({ provider: store.provider, apiKey: KEY });
  base = (await call('POST', '/snapshot', { body: { digest: `emulator-base-${Date.now()}` } })).body;
});
afterAll(async () => {
  await emulator?.close();
  await store?.cleanup();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

type Method = 'GET' | 'POST' | 'DELETE';

async function call(method: Method, path: string, opts: { body?: unknown; rawBody?: string; key?: string | null; signal?: AbortSignal; on?: MorphEmulator } = {}): Promise<Answer> {
  const key = opts.key === undefined ? KEY : opts.key;
  const res = await request(`${(opts.on ?? emulator).url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
    body: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    signal: opts.signal,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
}

async function pollStatus(path: string, want: string, on?: MorphEmulator): Promise<Answer> {
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(25)) {
    const r = await call('GET', path, { on });
    if (r.body?.status === want) return r;
  }
  throw new Error(`${path} never became ${want}`);
}

async function readyInstance(snapshotId: string, body: unknown = {}): Promise<string> {
  const started = await call('POST', `/instance?snapshot_id=${snapshotId}`, { body });
  expect(started.status).toBe(200);
  await pollStatus(`/instance/${started.body.id}`, 'ready');
  return started.body.id;
}

const exec = (id: string, ...command: string[]) => call('POST', `/instance/${id}/exec`, { body: { command } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('morph emulator: auth, validation, routing', () => {
  test('every request needs the bearer key; a missing or wrong key is 401 and the key is never echoed', async () => {
    const none = await call('GET', '/image', { key: null });
    expect(none.status).toBe(401);
    expect(typeof none.body.detail).toBe('string');
    const wrong = await call('GET', '/snapshot', { key: 'not-the-key' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).not.toContain('not-the-key');
    expect(wrong.text).not.toContain(KEY);
    const ok = await call('GET', '/image');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({
      object: 'list',
      data: [{ id: 'morphvm-minimal', object: 'image', name: 'morphvm-minimal', description: expect.any(String), disk_size: expect.any(Number), created: expect.any(Number) }],
    });
  });

  test('validation errors are 422 in FastAPI shape', async () => {
    const noSnapshot = await call('POST', '/instance', { body: {} });
    expect(noSnapshot.status).toBe(422);
    expect(noSnapshot.body).toEqual({ detail: [{ loc: ['query', 'snapshot_id'], msg: 'Field required', type: 'missing' }] });

    const notJson = await call('POST', `/snapshot/${base.id}/metadata`, { rawBody: '{nope' });
    expect(notJson.status).toBe(422);
    expect(notJson.body.detail[0]).toMatchObject({ loc: ['body'], type: 'json_invalid' });

    const noBody = await call('POST', `/snapshot/${base.id}/metadata`);
    expect(noBody.body).toEqual({ detail: [{ loc: ['body'], msg: 'Field required', type: 'missing' }] });

    const badTtl = await call('POST', `/instance?snapshot_id=${base.id}`, { body: { ttl_action: 'explode' } });
    expect(badTtl.status).toBe(422);
    expect(badTtl.body.detail[0].loc).toEqual(['body', 'ttl_action']);
  });

  test('unknown ids and routes are 404, a wrong method is 405, all with {"detail": ...}', async () => {
    for (const path of ['/snapshot/snapshot_nope', '/instance/morphvm_nope']) {
      const r = await call('GET', path);
      expect([r.status, typeof r.body.detail]).toEqual([404, 'string']);
    }
    expect((await call('POST', '/instance?snapshot_id=snapshot_nope')).status).toBe(404);
    expect((await call('DELETE', '/instance/morphvm_nope')).status).toBe(404);
    expect((await exec('morphvm_nope', 'true')).status).toBe(404);
    expect(await call('GET', '/nothing-here')).toMatchObject({ status: 404, body: { detail: 'Not Found' } });
    expect(await call('GET', '/image-x')).toMatchObject({ status: 404, body: { detail: 'Not Found' } });
    const wrongMethod = await call('DELETE', '/image');
    expect(wrongMethod).toMatchObject({ status: 405, body: { detail: 'Method Not Allowed' } });
    expect(wrongMethod.headers.allow).toBe('GET');
  });
});

describe('morph emulator: snapshots and instances', () => {
  test('a full layered step: start, exec, snapshot, find by digest, replace metadata, stop', async () => {
    expect(base).toMatchObject({ object: 'snapshot', spec: { vcpus: 1, memory: 128, disk_size: 700 }, refs: { image_id: 'morphvm-minimal' }, metadata: {} });
    // POST /snapshot with a known digest returns the existing snapshot.
    const again = await call('POST', '/snapshot', { body: { digest: (await call('GET', `/snapshot/${base.id}`)).body.digest } });
    expect(again.body.id).toBe(base.id);

    const started = await call('POST', `/instance?snapshot_id=${base.id}`, { body: { metadata: { role: 'builder' } } });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({
      object: 'instance',
      status: 'pending',
      spec: base.spec,
      refs: { snapshot_id: base.id, image_id: 'morphvm-minimal' },
      networking: { internal_ip: expect.any(String), http_services: [] },
      metadata: { role: 'builder' },
      ttl: { ttl_seconds: null, ttl_expire_at: null, ttl_action: 'stop' },
      wake_on: { wake_on_ssh: false, wake_on_http: false },
    });
    const id: string = started.body.id;
    expect(id).toMatch(/^morphvm_/);
    await pollStatus(`/instance/${id}`, 'ready');

    const failing = await exec(id, 'echo out;', 'echo err >&2;', 'exit 3');
    expect(failing.status).toBe(200);
    expect(failing.body).toEqual({ exit_code: 3, stdout: 'out\n', stderr: 'err\n' });
    expect((await exec(id, 'echo layer > /root/layer')).body.exit_code).toBe(0);

    const digest = `step-${Date.now()}`;
    const snap = await call('POST', `/instance/${id}/snapshot?digest=${digest}`, { body: { metadata: { k: 'v' } } });
    expect(snap.body).toMatchObject({ object: 'snapshot', status: 'pending', digest, metadata: { k: 'v' }, ttl: { ttl_seconds: null, ttl_expire_at: null } });
    await pollStatus(`/snapshot/${snap.body.id}`, 'ready');

    const found = await call('GET', `/snapshot?digest=${digest}`);
    expect(found.body.data.map((s: { id: string }) => s.id)).toEqual([snap.body.id]);
    expect((await call('GET', `/snapshot?digest=${digest}&metadata[k]=v`)).body.data).toHaveLength(1);
    expect((await call('GET', `/snapshot?digest=${digest}&metadata[k]=other`)).body.data).toHaveLength(0);

    // Metadata updates replace the dict, for snapshots and instances.
    expect((await call('POST', `/snapshot/${snap.body.id}/metadata`, { body: { other: 'x' } })).body.metadata).toEqual({ other: 'x' });
    expect((await call('GET', `/snapshot?digest=${digest}&metadata[k]=v`)).body.data).toHaveLength(0);
    expect((await call('POST', `/instance/${id}/metadata`, { body: { a: 'b' } })).body.metadata).toEqual({ a: 'b' });
    expect((await call('GET', '/instance?metadata[a]=b')).body.data.map((i: { id: string }) => i.id)).toEqual([id]);
    expect((await call('GET', '/instance?metadata[role]=builder')).body.data).toHaveLength(0);

    // The snapshot really captured the filesystem.
    const child = await readyInstance(snap.body.id);
    expect((await exec(child, 'cat /root/layer')).body.stdout).toBe('layer\n');

    for (const inst of [id, child]) {
      const stopped = await call('DELETE', `/instance/${inst}`);
      expect([stopped.status, stopped.text]).toEqual([204, '']);
      expect((await call('GET', `/instance/${inst}`)).status).toBe(404);
    }
    expect((await call('DELETE', `/snapshot/${snap.body.id}`)).status).toBe(204);
    expect((await call('GET', `/snapshot/${snap.body.id}`)).status).toBe(404);
    expect((await call('GET', `/snapshot?digest=${digest}`)).body.data).toEqual([]);
  });

  test('lists are newest first even within one second; the digest is stored exactly as sent', async () => {
    const id = await readyInstance(base.id);
    const tag = `order-${Date.now()}`;
    const made: string[] = [];
    for (const digest of ['undefined', 'b', 'c']) {
      made.push((await call('POST', `/instance/${id}/snapshot?digest=${digest}`, { body: { metadata: { tag } } })).body.id);
    }
    const listed = (await call('GET', `/snapshot?metadata[tag]=${tag}`)).body.data;
    expect(listed.map((s: { id: string }) => s.id)).toEqual([...made].reverse());
    expect(listed[2].digest).toBe('undefined');
    await call('DELETE', `/instance/${id}`);
  });

  test('a client that disconnects during exec kills its command', async () => {
    const id = await readyInstance(base.id);
    const started = Date.now();
    await expect(
      call('POST', `/instance/${id}/exec`, { body: { command: ['sleep 3 && touch /root/finished'] }, signal: AbortSignal.timeout(300) }),
    ).rejects.toThrow();
    // Commands on one instance run one at a time: this one runs only once the first is gone.
    expect((await exec(id, 'test -e /root/finished && echo ran || echo killed')).body.stdout).toBe('killed\n');
    expect(Date.now() - started).toBeLessThan(2500);
    await call('DELETE', `/instance/${id}`);
  });

  test('TTL: expiry with stop makes an instance 404 (and stops it), with pause pauses it', async () => {
    const withTtl = await call('POST', `/instance?snapshot_id=${base.id}`, { body: { ttl_seconds: 1, metadata: { ttl: 'start' } } });
    expect(withTtl.body.ttl).toEqual({ ttl_seconds: 1, ttl_expire_at: expect.any(Number), ttl_action: 'stop' });
    expect(withTtl.body.ttl.ttl_expire_at - withTtl.body.created).toBeLessThanOrEqual(2);
    const later = await call('POST', `/instance?snapshot_id=${base.id}`, { body: { metadata: { ttl: 'set' } } });
    const set = await call('POST', `/instance/${later.body.id}/ttl`, { body: { ttl_seconds: 1 } });
    expect(set.body.ttl).toMatchObject({ ttl_seconds: 1, ttl_action: 'stop' });
    const pausing = await call('POST', `/instance?snapshot_id=${base.id}`, { body: { ttl_seconds: 1, ttl_action: 'pause' } });

    await sleep(1300);
    expect((await call('GET', `/instance/${withTtl.body.id}`)).status).toBe(404);
    expect((await call('GET', `/instance/${later.body.id}`)).status).toBe(404);
    for (const ttl of ['start', 'set']) expect(await store.provider.listInstances({ metadata: { ttl } })).toEqual([]);
    expect((await call('GET', `/instance/${pausing.body.id}`)).body.status).toBe('paused');
    expect((await exec(pausing.body.id, 'true')).status).toBe(409);
    expect((await call('DELETE', `/instance/${pausing.body.id}`)).status).toBe(204);
  });

  test('a pending instance refuses exec and snapshot (409); a new emulator sees stored snapshots; close() stops its instances', async () => {
    const slow = await startMorphEmulator({ provider: store.provider, apiKey: KEY, instanceReadyDelayMs: 60_000 });
    try {
      expect((await call('GET', `/snapshot/${base.id}`, { on: slow })).body.status).toBe('ready');
      const inst = await call('POST', `/instance?snapshot_id=${base.id}`, { body: { metadata: { owner: 'slow' } }, on: slow });
      expect(inst.body.status).toBe('pending');
      expect((await call('POST', `/instance/${inst.body.id}/exec`, { body: { command: ['true'] }, on: slow })).status).toBe(409);
      expect((await call('POST', `/instance/${inst.body.id}/snapshot?digest=x`, { on: slow })).status).toBe(409);
      expect(await store.provider.listInstances({ metadata: { owner: 'slow' } })).toHaveLength(1);
    } finally {
      await slow.close();
    }
    expect(await store.provider.listInstances({ metadata: { owner: 'slow' } })).toEqual([]);
  });
});

describe('morph emulator: fault injection', () => {
  afterEach(() => emulator.setFaults({ latencyMs: 0, errorRate: 0, rateLimitRate: 0, dropRate: 0, slowExecMs: 0 }));

  test('injected 5xx and 429 are deterministic for a seed; 429 carries Retry-After', async () => {
    const statuses = async () => {
      const seen: number[] = [];
      for (let i = 0; i < 50; i++) {
        const r = await call('GET', '/image');
        seen.push(r.status);
        if (r.status === 429) expect(r.headers['retry-after']).toBe('1');
        if (r.status >= 500) expect(r.body).toEqual({ detail: 'injected server error' });
      }
      return seen;
    };
    const before = emulator.stats();
    emulator.setFaults({ errorRate: 0.2, rateLimitRate: 0.2, seed: 42 });
    const first = await statuses();
    emulator.setFaults({ seed: 42 });
    const second = await statuses();
    emulator.setFaults({ seed: 43 });
    const third = await statuses();

    expect(second).toEqual(first);
    expect(third).not.toEqual(first);
    expect(new Set(first)).toEqual(new Set([200, 429, 500, 503]));
    const all = [...first, ...second, ...third];
    const after = emulator.stats();
    expect(after.errors - before.errors).toBe(all.filter((s) => s >= 500).length);
    expect(after.rateLimited - before.rateLimited).toBe(all.filter((s) => s === 429).length);
  });

  test('a dropped response was still processed; GETs are never dropped', async () => {
    const before = emulator.stats().dropped;
    emulator.setFaults({ dropRate: 1 });
    await expect(call('POST', `/snapshot/${base.id}/metadata`, { body: { dropped: 'yes' } })).rejects.toThrow();
    const after = await call('GET', `/snapshot/${base.id}`);
    expect(after.body.metadata).toEqual({ dropped: 'yes' });
    expect(emulator.stats().dropped).toBe(before + 1);
  });

  test('latency is added to every response and slowExecMs to every exec', async () => {
    const id = await readyInstance(base.id);
    emulator.setFaults({ latencyMs: 150, slowExecMs: 300 });
    const slowedBefore = emulator.stats().slowedExecs;
    let t = Date.now();
    expect((await call('GET', '/image')).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(145);
    t = Date.now();
    expect((await exec(id, 'echo hi')).body.stdout).toBe('hi\n');
    expect(Date.now() - t).toBeGreaterThanOrEqual(445);
    expect(emulator.stats().slowedExecs).toBe(slowedBefore + 1);
    emulator.setFaults({ latencyMs: 0 });
    await call('DELETE', `/instance/${id}`);
  });

  test('invalid fault settings are refused, naming the setting', () => {
    expect(() => emulator.setFaults({ errorRate: 1.5 })).toThrow(/errorRate/);
    expect(() => emulator.setFaults({ errorRate: 0.7, rateLimitRate: 0.7 })).toThrow(/add up to more than 1/);
    expect(emulator.faults().errorRate).toBe(0);
    expect(faultsFromEnv({ MORPH_EMULATOR_DROP_RATE: '0.25', MORPH_EMULATOR_SEED: '7', MORPH_EMULATOR_LATENCY_MS: '' })).toEqual({ dropRate: 0.25, seed: 7 });
    expect(() => faultsFromEnv({ MORPH_EMULATOR_DROP_RATE: 'lots' })).toThrow('MORPH_EMULATOR_DROP_RATE: must be a number between 0 and 1 (got "lots")');
  });
});
