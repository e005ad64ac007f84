/** The provider contract, and what only the local provider promises, on this machine's kernel. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { LocalProvider } from '../../src/providers/local';
import { openTestStore, type TestStore } from '../helpers/store';
import { providerContract } from './contract';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await store?.cleanup();
});

describe('local provider: contract', () => {
  providerContract({ provider: () => store.provider, base: 'host' });
});

describe('local provider: isolation and storage', () => {
  test('writes and deletions inside an instance never reach the host', async () => {
    const p = store.provider;
    const name = `snapbuild-host-check-${process.pid}-${Date.now()}`;
    const inst = await p.startInstance('host', { ttlSeconds: 60 });
    try {
      const r = await p.exec(inst.id, `echo x > /root/${name} && echo y > /etc/${name} && rm -f /etc/hostname /etc/os-release && ls /etc/os-release`);
      expect(r.exitCode).not.toBe(0);
      expect(existsSync(`/root/${name}`)).toBe(false);
      expect(existsSync(`/etc/${name}`)).toBe(false);
      expect(existsSync('/etc/os-release')).toBe(true);
    } finally {
      await p.stopInstance(inst.id);
    }
  });

  test("an instance sees its own empty /tmp, not the host's", async () => {
    const hostFile = path.join('/tmp', `snapbuild-visible-${process.pid}`);
    writeFileSync(hostFile, 'host');
    const inst = await store.provider.startInstance('host', { ttlSeconds: 60 });
    try {
      const r = await store.provider.exec(inst.id, `test -e ${hostFile} && echo visible; ls -A /tmp | wc -l; stat -c %a /tmp`);
      expect(r.stdout).toBe('0\n1777\n');
    } finally {
      await store.provider.stopInstance(inst.id);
    }
  });

  test('a snapshot layer holds only what changed, whiteouts included', async () => {
    const p = store.provider;
    const inst = await p.startInstance('host', { ttlSeconds: 60 });
    try {
      await p.exec(inst.id, 'mkdir -p /srv/app && echo v1 > /srv/app/file && rm -f /etc/motd');
      const snap = await p.snapshot(inst.id, { digest: `layer-${Date.now()}` });
      const layer = path.join(p.layerRoot, 'layers', snap.id);
      expect(readdirSync(layer).sort()).toEqual(['etc', 'srv']);
      expect(readdirSync(path.join(layer, 'etc'))).toEqual(['motd']);
      const whiteout = spawnSync('stat', ['-c', '%F %t:%T', path.join(layer, 'etc', 'motd')], { encoding: 'utf8' }).stdout.trim();
      expect(whiteout).toBe('character special file 0:0');
      // The next layer starts empty: nothing was copied forward.
      await p.exec(inst.id, 'echo v2 > /srv/app/other');
      const next = await p.snapshot(inst.id, { digest: `layer2-${Date.now()}` });
      expect(readdirSync(path.join(p.layerRoot, 'layers', next.id, 'srv', 'app'))).toEqual(['other']);
    } finally {
      await p.stopInstance(inst.id);
    }
  });

  test('state survives a restart: a new provider on the same store finds snapshots and instances', async () => {
    const p = store.provider;
    const inst = await p.startInstance('host', { ttlSeconds: 120 });
    await p.exec(inst.id, 'echo persisted > /root/restart');
    const digest = `restart-${Date.now()}`;
    const snap = await p.snapshot(inst.id, { digest });
    const reopened = await LocalProvider.open({ storeDir: store.dir });
    try {
      expect((await reopened.findReadySnapshots([digest])).get(digest)?.id).toBe(snap.id);
      expect((await reopened.getInstance(inst.id)).snapshotId).toBe(snap.id);
      expect((await reopened.exec(inst.id, 'cat /root/restart')).stdout).toBe('persisted\n');
      await reopened.stopInstance(inst.id);
      await expect(p.getInstance(inst.id)).rejects.toThrow(/not found/);
    } finally {
      await reopened.close();
    }
  });

  test('a crash mid-write leaves no half record and no false cache hit', async () => {
    const p = store.provider;
    const records = path.join(p.layerRoot, 'records', 'snapshots');
    // A writer that died before its rename leaves only a temporary file; one that died mid-snapshot leaves a
    // pending record. Neither may count.
    writeFileSync(path.join(records, 'snapshot_torn.json.123.abcd.tmp'), '{"id": "snapshot_torn", "digest": "torn", "sta');
    writeFileSync(
      path.join(records, 'snapshot_pending.json'),
      JSON.stringify({ id: 'snapshot_pending', digest: 'pending-digest', status: 'pending', createdAt: Date.now(), metadata: {}, layers: [], image: 'host' }),
    );
    const found = await p.findReadySnapshots(['torn', 'pending-digest']);
    expect(found.size).toBe(0);
    expect((await p.getSnapshot('snapshot_pending')).status).toBe('pending');
  });

  test('refuses to run commands without the isolation it needs, saying what is missing', () => {
    // Run the provider as an unprivileged user: it must refuse rather than run anything on the host.
    const script = `require('ts-node').register({ transpileOnly: true });
      require('./src/providers/local').LocalProvider.open({ storeDir: '/tmp/snapbuild-unprivileged' })
        .then(() => { console.log('opened'); process.exit(0); }, (e) => { console.log(e.name + ': ' + e.message); process.exit(1); });`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], {
      cwd: path.resolve(__dirname, '../..'),
      encoding: 'utf8',
    });
    expect(r.stdout.trim()).toBe('UnsupportedError: the local provider needs root to mount overlay filesystems (run as root, or use SNAPBUILD_PROVIDER=morph)');
    expect(r.status).toBe(1);
  });
});
