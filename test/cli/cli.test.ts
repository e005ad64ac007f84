/** The CLI as a user meets it: exit codes, one-line errors, output formats, and the embedded default. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { startMorphEmulator } from '../../src/providers/morph-emulator';
import { snapbuild, spawnSnapbuild } from '../helpers/cli';
import { openTestStore } from '../helpers/store';

const VECTORS = ['1779e7f4a81d9d0745e94b324501b518f10675920ccbe6e91e68a21df909b530', '8b34bae76e43a8c4d15ef12012d3d4d6611556558a32926df3ba7e150a60ea56'];

let home: string;
beforeAll(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'snapbuild-cli-'));
});
afterAll(() => {
  try {
    execFileSync('umount', ['-l', path.join(home, 'local', 'fs')], { stdio: 'ignore' });
  } catch {
    /* never mounted */
  }
  rmSync(home, { recursive: true, force: true });
});

function recipe(name: string, text: string): string {
  const file = path.join(home, name);
  writeFileSync(file, text);
  return file;
}

describe('snapbuild digest', () => {
  test('prints the Morph SDK vectors, one per line', async () => {
    const r = await snapbuild(['digest', '--parent', 'snapshot_abc', 'echo hi', 'echo bye']);
    expect(r).toEqual({ code: 0, stdout: VECTORS.join('\n') + '\n', stderr: '' });
  });

  test('prints a JSON array with --json', async () => {
    const r = await snapbuild(['digest', '--json', '--parent', 'snapshot_abc', 'echo hi', 'echo bye']);
    expect(JSON.parse(r.stdout)).toEqual(VECTORS);
  });

  test('a missing --parent is a usage error (exit 2), in one line', async () => {
    const r = await snapbuild(['digest', 'echo hi']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("snapbuild: required option '--parent <id-or-digest>' not specified\n");
  });
});

describe('bad input', () => {
  test('an invalid recipe exits 2 with one line per problem and starts nothing', async () => {
    const file = recipe('bad.yaml', 'base: host\nsteps:\n  - echo ok\n  - run: x\n    timeout: soon\n  - true\n');
    const r = await snapbuild(['build', file], { SNAPBUILD_HOME: home });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(existsSync(path.join(home, 'temporal'))).toBe(false); // no server was started
    expect(r.stderr).toBe(
      `snapbuild: ${file}: invalid recipe\n` +
        '  steps[1].timeout: must be a duration between 1ms and 24h, like 90, "90s" or "15m" (got "soon")\n' +
        '  steps[2]: must be a shell command string: YAML read true as a boolean, so quote it\n',
    );
  });

  test('a missing recipe file exits 2', async () => {
    const r = await snapbuild(['plan', path.join(home, 'nope.yaml')], { SNAPBUILD_HOME: home });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`snapbuild: cannot read recipe ${path.join(home, 'nope.yaml')}: no such file\n`);
  });

  test('an unknown command exits 2 without a stack trace', async () => {
    const r = await snapbuild(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^snapbuild: unknown command 'frobnicate'\n$/);
  });

  test('an invalid setting is named', async () => {
    const r = await snapbuild(['plan', 'examples/hello.yaml'], { SNAPBUILD_PROVIDER: 'cloud9' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^snapbuild: SNAPBUILD_PROVIDER: /);
  });

});

describe('morph provider', () => {
  test('SNAPBUILD_PROVIDER=morph without MORPH_API_KEY is a usage error naming the variable; nothing starts', async () => {
    const r = await snapbuild(['build', 'examples/hello.yaml'], { SNAPBUILD_HOME: home, SNAPBUILD_PROVIDER: 'morph', MORPH_API_KEY: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('snapbuild: MORPH_API_KEY is not set; SNAPBUILD_PROVIDER=morph needs a Morph Cloud API key\n');
  });

  test('builds the example through the Morph client against the emulator; the second run is fully cached', async () => {
    const store = await openTestStore();
    const emulator = await startMorphEmulator({ provider: store.provider, apiKey: 'cli-test-key' });
    try {
      const env = { SNAPBUILD_HOME: home, TEMPORAL_ADDRESS: '', SNAPBUILD_PROVIDER: 'morph', MORPH_BASE_URL: emulator.url, MORPH_API_KEY: 'cli-test-key' };
      const first = await snapbuild(['build', 'examples/hello.yaml', '--json'], env);
      expect(first.code).toBe(0);
      expect(JSON.parse(first.stdout).steps.map((s: { state: string }) => s.state)).toEqual(['built', 'built', 'built']);
      expect(first.stderr).toContain('base morphvm-minimal');
      expect(first.stderr + first.stdout).not.toContain('cli-test-key');
      const second = await snapbuild(['build', 'examples/hello.yaml'], env);
      expect(second.code).toBe(0);
      expect(second.stdout).toContain('all steps cached: no instance started');
    } finally {
      await emulator.close();
      await store.cleanup();
    }
  });
});

describe('embedded default', () => {
  test('plan, build, build again: the second build is fully cached and starts no instance', async () => {
    const file = recipe('ok.yaml', `base: host\nsteps:\n  - echo ${Date.now()} > /root/stamp\n  - run: cat /root/stamp\n    name: show stamp\n`);
    const env = { SNAPBUILD_HOME: home, TEMPORAL_ADDRESS: '' };

    const plan = await snapbuild(['plan', file], env);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^STEP +PLAN +SNAPSHOT +DIGEST +COMMAND\n1 +run +- /);
    expect(plan.stdout).toContain('2 of 2 steps would run');

    const first = await snapbuild(['build', file, '--json'], env);
    expect(first.code).toBe(0);
    const r1 = JSON.parse(first.stdout);
    expect(r1.fullyCached).toBe(false);
    expect(r1.steps.map((s: { state: string }) => s.state)).toEqual(['built', 'built']);
    expect(first.stderr).toContain('[2/2] built');

    const second = await snapbuild(['build', file], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('all steps cached: no instance started');
    expect(second.stdout).toMatch(/\n2 +cached +- +snapshot_\w+ +\w{12} +show stamp\n/);

    const status = await snapbuild(['status', `build-${r1.digest}`, '--json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ status: 'COMPLETED', progress: { snapshotId: r1.snapshotId } });

    const plan2 = await snapbuild(['plan', file, '--json'], env);
    expect(JSON.parse(plan2.stdout)).toMatchObject({ deepestCached: 1, finalDigest: r1.digest });
  });

  test('a failing build exits 1 with the step, exit code and output', async () => {
    const file = recipe('fail.yaml', `base: host\nsteps:\n  - echo ${Date.now()}\n  - echo broken >&2; exit 5\n`);
    const r = await snapbuild(['build', file], { SNAPBUILD_HOME: home, TEMPORAL_ADDRESS: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('snapbuild: build failed: step 1 (echo broken >&2; exit 5) exited with code 5\nbroken\n');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe('fan-out', () => {
  test('an unknown --branch is a usage error naming the branches there are', async () => {
    const r = await snapbuild(['fanout', 'examples/fanout.yaml', '--branch', 'nope'], { SNAPBUILD_HOME: home });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('snapbuild: no such branch: nope (the recipe has: main, feature/darker-theme, rollback/v1.3)\n');
  });

  test('build refuses a recipe with branches, pointing at fanout', async () => {
    const r = await snapbuild(['build', 'examples/fanout.yaml'], { SNAPBUILD_HOME: home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has branches: use snapbuild fanout');
  });

  test('the fan-out example runs on the embedded default; tags and resolve show where each branch points', async () => {
    const env = { SNAPBUILD_HOME: home, TEMPORAL_ADDRESS: '' };
    const run = await snapbuild(['fanout', 'examples/fanout.yaml', '--branch', 'main', '--branch', 'rollback/v1.3', '--json'], env);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.branches.map((b: { name: string; state: string }) => [b.name, b.state])).toEqual([
      ['main', 'built'],
      ['rollback/v1.3', 'built'],
    ]);
    const resolved = await snapbuild(['resolve', 'fanout-demo:main'], env);
    expect(resolved).toMatchObject({ code: 0, stdout: `${result.branches[0].snapshotId}\n` });
    const tags = JSON.parse((await snapbuild(['tags', '--json'], env)).stdout);
    expect(tags.map((t: { tag: string }) => t.tag)).toEqual(expect.arrayContaining(['fanout-demo:main', 'fanout-demo:rollback/v1.3']));
    // Rollback: point main at the rollback snapshot, and back.
    expect((await snapbuild(['tag', 'fanout-demo:main', result.branches[1].snapshotId], env)).code).toBe(0);
    expect((await snapbuild(['resolve', 'fanout-demo:main'], env)).stdout).toBe(`${result.branches[1].snapshotId}\n`);
    const missing = await snapbuild(['resolve', 'fanout-demo:nope'], env);
    expect(missing).toMatchObject({ code: 1, stderr: 'snapbuild: no snapshot is tagged fanout-demo:nope\n' });
  });
});

describe('snapbuild worker on the embedded default, and schedules', () => {
  test('serves the embedded server until stopped; other commands use it; a schedule checks a release and builds', async () => {
    const workerHome = mkdtempSync(path.join(os.tmpdir(), 'snapbuild-cli-worker-'));
    const env = { SNAPBUILD_HOME: workerHome, SNAPBUILD_LOCAL_STORE: path.join(home, 'local'), TEMPORAL_ADDRESS: '' };
    const release = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(readFileSync('examples/release.json')));
    await new Promise<void>((r) => release.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(release.address() as AddressInfo).port}/release.json`;
    const worker = spawnSnapbuild(['worker'], env);
    let log = '';
    worker.stderr.on('data', (d) => (log += d));
    try {
      for (let i = 0; i < 300 && !log.includes('schedules fire'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(log).toMatch(/^snapbuild worker: embedded Temporal server on 127\.0\.0\.1:\d+/);

      const noHttp = await snapbuild(['schedule', 'create', 'mycli', '--recipe', 'examples/versioned.yaml', '--release-url', url, '--every', '1h'], env);
      expect(noHttp).toMatchObject({ code: 2, stderr: 'snapbuild: --release-url must be https (or pass --allow-http for a loopback test server)\n' });
      const created = await snapbuild(
        ['schedule', 'create', 'mycli', '--recipe', 'examples/versioned.yaml', '--release-url', url, '--tarball-field', 'tarball', '--allow-http', '--every', '1h'],
        env,
      );
      expect(created).toMatchObject({ code: 0, stdout: 'created schedule mycli (every 1h)\n' });
      const first = await snapbuild(['schedule', 'trigger', 'mycli'], env);
      expect(first.stdout).toMatch(/^mycli: 1\.24\.0 built snapshot_\w+\n$/);
      const second = await snapbuild(['schedule', 'trigger', 'mycli'], env);
      expect(second.stdout).toMatch(/^mycli: 1\.24\.0 unchanged \(cached snapshot_\w+\)\n$/);
      const described = await snapbuild(['schedule', 'describe', 'mycli', '--json'], env);
      expect(JSON.parse(described.stdout).runs.map((r: { result: { outcome: string } }) => r.result.outcome)).toEqual(['built', 'unchanged']);
      expect((await snapbuild(['resolve', 'mycli:1.24.0'], env)).stdout).toBe((await snapbuild(['resolve', 'mycli:latest'], env)).stdout);
      expect((await snapbuild(['schedule', 'delete', 'mycli'], env)).stdout).toBe('deleted mycli\n');
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('close', r));
      await new Promise((r) => release.close(r));
      rmSync(workerHome, { recursive: true, force: true });
    }
    expect(worker.exitCode).toBe(0);
  });
});
