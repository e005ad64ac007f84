/**
 * The provider contract: every backend must pass these, whatever it runs on. Each target file calls
 * `providerContract` with a way to get a provider.
 */
import { randomBytes } from 'node:crypto';
import { NotFoundError, ProviderTimeoutError } from '../../src/providers/errors';
import type { Provider } from '../../src/providers/provider';

export interface ContractTarget {
  provider(): Provider;
  /** The base (image or snapshot id) the suite starts instances from. */
  base: string;
}

export function providerContract(target: ContractTarget): void {
  const p = () => target.provider();
  const uniq = () => randomBytes(6).toString('hex');
  const started: string[] = [];
  const start = async (snapshotId: string, ttlSeconds = 300) => {
    const inst = await p().startInstance(snapshotId, { ttlSeconds, metadata: { suite: 'contract' } });
    started.push(inst.id);
    return inst;
  };
  const baseId = async () => (await p().resolveBase(target.base)).id;

  afterAll(async () => {
    for (const id of started) await p().stopInstance(id).catch(() => undefined);
  });

  test('exec runs bash, separates stdout and stderr, and reports a non-zero exit as a result', async () => {
    const inst = await start(await baseId());
    expect(inst.status).toBe('ready');
    const r = await p().exec(inst.id, 'echo out; echo err >&2; [[ 1 == 1 ]] && exit 3');
    expect(r).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  test('exec passes environment variables', async () => {
    const inst = await start(await baseId());
    expect((await p().exec(inst.id, 'echo "$GREETING"', { env: { GREETING: 'hi there' } })).stdout).toBe('hi there\n');
  });

  test('a file written in one exec is seen by the next, and by a new instance from the snapshot', async () => {
    const m = uniq();
    const inst = await start(await baseId());
    await p().exec(inst.id, `mkdir -p /opt/contract && echo ${m} > /opt/contract/f`);
    expect((await p().exec(inst.id, 'cat /opt/contract/f')).stdout).toBe(`${m}\n`);
    const digest = `contract-${m}`;
    const snap = await p().snapshot(inst.id, { digest, metadata: { suite: 'contract', m } });
    expect(snap).toMatchObject({ digest, status: 'ready', metadata: { suite: 'contract', m } });
    await p().stopInstance(inst.id);
    const again = await start(snap.id);
    expect(again.snapshotId).toBe(snap.id);
    expect((await p().exec(again.id, 'cat /opt/contract/f')).stdout).toBe(`${m}\n`);
  });

  test('a deleted file stays deleted in later snapshots', async () => {
    const m = uniq();
    const inst = await start(await baseId());
    await p().exec(inst.id, `echo ${m} > /root/doomed-${m}`);
    const s1 = await p().snapshot(inst.id, { digest: `del1-${m}` });
    await p().exec(inst.id, `rm /root/doomed-${m}`);
    const s2 = await p().snapshot(inst.id, { digest: `del2-${m}` });
    const fromS2 = await start(s2.id);
    expect((await p().exec(fromS2.id, `test -e /root/doomed-${m}`)).exitCode).toBe(1);
    const fromS1 = await start(s1.id);
    expect((await p().exec(fromS1.id, `cat /root/doomed-${m}`)).stdout).toBe(`${m}\n`);
  });

  test('snapshots are found by digest (READY only, newest first) and by metadata', async () => {
    const m = uniq();
    const inst = await start(await baseId());
    const older = await p().snapshot(inst.id, { digest: `find-${m}`, metadata: { m } });
    await new Promise((r) => setTimeout(r, 5));
    const newer = await p().snapshot(inst.id, { digest: `find-${m}`, metadata: { m } });
    const found = await p().findReadySnapshots([`find-${m}`, `missing-${m}`]);
    expect([...found.keys()]).toEqual([`find-${m}`]);
    expect(found.get(`find-${m}`)!.id).toBe(newer.id);
    expect((await p().listSnapshots({ metadata: { m } })).map((s) => s.id)).toEqual([newer.id, older.id]);
    expect((await p().listSnapshots({ digest: `find-${m}` })).length).toBe(2);
  });

  test('metadata updates merge into the existing metadata', async () => {
    const m = uniq();
    const inst = await start(await baseId());
    const snap = await p().snapshot(inst.id, { digest: `meta-${m}`, metadata: { a: '1', b: '2' } });
    const updated = await p().updateSnapshotMetadata(snap.id, { b: '3', tag: `app:${m}` });
    expect(updated.metadata).toEqual({ a: '1', b: '3', tag: `app:${m}` });
    expect((await p().getSnapshot(snap.id)).metadata).toEqual({ a: '1', b: '3', tag: `app:${m}` });
    expect((await p().listSnapshots({ metadata: { tag: `app:${m}` } })).map((s) => s.id)).toEqual([snap.id]);
  });

  test('stop is idempotent; a stopped instance is not found', async () => {
    const inst = await start(await baseId());
    await p().stopInstance(inst.id);
    await p().stopInstance(inst.id);
    await expect(p().getInstance(inst.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(p().exec(inst.id, 'true')).rejects.toBeInstanceOf(NotFoundError);
    expect((await p().listInstances({ metadata: { suite: 'contract' } })).map((i) => i.id)).not.toContain(inst.id);
  });

  test('unknown snapshots and instances are NotFoundError', async () => {
    await expect(p().getSnapshot('snapshot_doesnotexist')).rejects.toBeInstanceOf(NotFoundError);
    await expect(p().startInstance('snapshot_doesnotexist', { ttlSeconds: 60 })).rejects.toBeInstanceOf(NotFoundError);
    await expect(p().snapshot('instance_doesnotexist', { digest: 'x' })).rejects.toBeInstanceOf(NotFoundError);
  });

  test('an instance whose TTL passes is stopped by the provider', async () => {
    const inst = await start(await baseId(), 1);
    await new Promise((r) => setTimeout(r, 2500));
    await expect(p().getInstance(inst.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('exec with a timeout kills the command and fails with ProviderTimeoutError', async () => {
    const inst = await start(await baseId());
    const t0 = Date.now();
    await expect(p().exec(inst.id, 'sleep 30', { timeoutMs: 500 })).rejects.toBeInstanceOf(ProviderTimeoutError);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
}
