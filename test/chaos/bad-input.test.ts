/**
 * Bad input through the real CLI (a child process per case, each with its own SNAPBUILD_HOME): every case must
 * end with the right exit code (2 for usage, recipe and configuration errors; 1 for an operation that failed at
 * run time), an error that is one line starting with `snapbuild: ` (an invalid recipe: its first line, then one
 * indented line per problem), a word naming the problem, no stack trace, no raw control characters, nothing on
 * stdout, and no embedded Temporal server started.
 *
 * The CLI runs start from beforeAll: the timed cases (unreachable servers) first, then the rest 4 at a time
 * (each CLI call costs one to two seconds of ts-node start-up); each test awaits its own case's result.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { snapbuild } from '../helpers/cli';
import { limiter, makeHome, RAW_CONTROL, removeHome, snapbuildWithin, STACK, type TimedRun } from './support';

type Kind = 'recipe' | 'usage' | 'config' | 'runtime';

interface Case {
  name: string;
  kind: Kind;
  /** 2 for recipe, usage and configuration errors, 1 for a failure at run time. */
  code: 1 | 2;
  /** Recipe files to write into the case's home: name -> text (or a function making it). */
  files?: Record<string, string | (() => string)>;
  /** Directories to create in the case's home. */
  dirs?: string[];
  /** The CLI arguments; `f(name)` is the path of a file written for this case. */
  args: (f: (name: string) => string) => string[];
  env?: Record<string, string>;
  /** What the error must say (matched against stderr). */
  says: RegExp[];
  /**
   * The case is about time (an unreachable server): the CLI must have failed within this long, or it is killed
   * and the case fails. These cases run first, on a quiet machine, so that the limit measures the CLI.
   */
  withinMs?: number;
}

const HELLO = 'examples/hello.yaml';
const FANOUT = 'examples/fanout.yaml';
const VERSIONED = 'examples/versioned.yaml';
const HTTPS_RELEASE = 'https://releases.example.com/mycli/latest.json';
const ok = 'base: host\nsteps:\n  - echo ok\n';

/** A 10 MiB command. */
const tenMegabyteRecipe = () => `base: host\nsteps:\n  - "echo ${'x'.repeat(10 * 1024 * 1024)} > /dev/null"\n`;
/** 30 steps of 100 KiB each: 3 MiB of commands, more than Temporal accepts as one workflow input (2 MiB). */
const threeMegabyteRecipe = () => `base: host\nsteps:\n${Array.from({ length: 30 }, (_, i) => `  - "echo ${i} ${'y'.repeat(100 * 1024)} > /dev/null"\n`).join('')}`;

const cases: Case[] = [
  // ---- recipes: syntax ----
  { name: 'malformed YAML (unclosed flow sequence)', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps: [echo hi\n' }, args: (f) => ['build', f('r')], says: [/\(syntax\): /] },
  { name: 'duplicate top-level key', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps: [echo a]\nbase: other\n' }, args: (f) => ['build', f('r')], says: [/unique|duplicate/i] },

  // ---- recipes: wrong types ----
  { name: 'steps as a string', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps: echo hi\n' }, args: (f) => ['build', f('r')], says: [/^ {2}steps: .*(array|list)/m] },
  { name: 'a step that is a number', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps:\n  - echo ok\n  - 42\n' }, args: (f) => ['build', f('r')], says: [/^ {2}steps\[1\]: .*number.*quote/m] },
  { name: 'a step that is a boolean', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps:\n  - false\n' }, args: (f) => ['build', f('r')], says: [/^ {2}steps\[0\]: .*boolean.*quote/m] },
  { name: 'a step that is null', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps:\n  - echo ok\n  - null\n' }, args: (f) => ['build', f('r')], says: [/^ {2}steps\[1\]: .*shell command/m] },
  { name: 'a step that is an array', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps:\n  - [echo, hi]\n' }, args: (f) => ['build', f('r')], says: [/^ {2}steps\[0\]: .*shell command/m] },
  { name: 'timeout as an object', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps:\n  - run: echo\n    timeout: { minutes: 5 }\n' }, args: (f) => ['build', f('r')], says: [/^ {2}steps\[0\]\.timeout: .*duration/m] },
  { name: 'env values that are numbers', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps:\n  - run: echo $PORT\n    env: { PORT: 8080 }\n' }, args: (f) => ['build', f('r')], says: [/^ {2}steps\[0\]\.env\.PORT: .*string/m] },
  { name: 'retries: 99', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps:\n  - run: echo\n    retries: 99\n' }, args: (f) => ['build', f('r')], says: [/^ {2}steps\[0\]\.retries: .*10/m] },
  { name: 'metadata values that are objects', kind: 'recipe', code: 2, files: { r: `${ok}metadata: { team: { name: infra } }\n` }, args: (f) => ['build', f('r')], says: [/^ {2}metadata\.team: .*string/m] },
  { name: 'an outcome for exit code 0', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps:\n  - run: echo\n    outcomes: { 0: fine }\n' }, args: (f) => ['build', f('r')], says: [/^ {2}steps\[0\]\.outcomes.*: .*1 to 255/m] },

  // ---- recipes: unknown keys, missing and empty things, limits ----
  { name: 'an unknown top-level key', kind: 'recipe', code: 2, files: { r: `${ok}bogus: 1\n` }, args: (f) => ['build', f('r')], says: [/^ {2}\(recipe\): .*"bogus"/m] },
  { name: 'an unknown key in a step', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps:\n  - run: echo\n    rn: echo\n' }, args: (f) => ['build', f('r')], says: [/^ {2}steps\[0\]: .*"rn"/m] },
  { name: 'an unknown key in a branch', kind: 'recipe', code: 2, files: { r: `${ok}branches:\n  main: { steps: [echo m], tagg: x }\n` }, args: (f) => ['fanout', f('r')], says: [/^ {2}branches\.main: .*"tagg"/m] },
  { name: 'empty steps', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps: []\n' }, args: (f) => ['build', f('r')], says: [/^ {2}steps: .*at least one step/m] },
  { name: '121 steps', kind: 'recipe', code: 2, files: { r: `base: host\nsteps:\n${'  - echo\n'.repeat(121)}` }, args: (f) => ['build', f('r')], says: [/^ {2}steps: .*120/m] },
  {
    // `plan` reads and validates the recipe exactly as `build` does; `build` would also start the embedded
    // server today and fail only when Temporal refuses the workflow input, after about 40 s.
    name: 'a 10 MB step is refused, naming the step',
    kind: 'recipe',
    code: 2,
    files: { r: tenMegabyteRecipe },
    args: (f) => ['plan', f('r')],
    says: [/^ {2}steps\[0\](\.run)?: .*(too long|too large|at most|exceeds|limit)/im],
  },
  {
    name: 'a recipe whose commands add up to 3 MB is refused',
    kind: 'recipe',
    code: 2,
    files: { r: threeMegabyteRecipe },
    args: (f) => ['plan', f('r')],
    says: [/(too long|too large|at most|exceeds|limit)/i],
  },

  // ---- recipes: structure ----
  { name: 'a branch name with a control character (BEL)', kind: 'recipe', code: 2, files: { r: `${ok}branches:\n  "ma\\x07in": { steps: [echo m] }\n` }, args: (f) => ['fanout', f('r')], says: [/control character/] },
  { name: 'a branch name with a newline', kind: 'recipe', code: 2, files: { r: `${ok}branches:\n  "evil\\nbranch": { steps: [echo m] }\n` }, args: (f) => ['fanout', f('r')], says: [/control character/] },
  { name: 'a branch name with a terminal escape sequence', kind: 'recipe', code: 2, files: { r: `${ok}branches:\n  "\\e[2Jclear": { steps: [echo m] }\n` }, args: (f) => ['fanout', f('r')], says: [/control character/] },
  { name: 'verify steps not last', kind: 'recipe', code: 2, files: { r: 'base: host\nsteps:\n  - { run: test -d /, verify: true }\n  - echo after\n' }, args: (f) => ['build', f('r')], says: [/^ {2}steps\[1\]: .*verify steps come last/m] },
  { name: 'a per-provider base without one for this provider', kind: 'recipe', code: 2, files: { r: 'base: { morph: morphvm-minimal }\nsteps: [echo]\n' }, args: (f) => ['build', f('r')], says: [/base: .*provider local/] },

  // ---- usage ----
  { name: 'a recipe file that does not exist', kind: 'usage', code: 2, args: (f) => ['build', f('missing.yaml')], says: [/cannot read recipe .*missing\.yaml: no such file/] },
  { name: 'a recipe that is a directory', kind: 'usage', code: 2, dirs: ['recipe.d'], args: (f) => ['build', f('recipe.d')], says: [/recipe .*recipe\.d.*directory/i] },
  { name: 'an unknown option', kind: 'usage', code: 2, args: () => ['build', '--frobnicate', HELLO], says: [/unknown option '--frobnicate'/] },
  { name: 'fanout --parallel 0', kind: 'usage', code: 2, args: () => ['fanout', FANOUT, '--parallel', '0'], says: [/--parallel/] },
  { name: 'fanout --parallel abc', kind: 'usage', code: 2, args: () => ['fanout', FANOUT, '--parallel', 'abc'], says: [/--parallel/] },
  { name: 'fanout on a recipe without branches', kind: 'usage', code: 2, args: () => ['fanout', HELLO], says: [/no branches/] },
  { name: 'fanout --branch naming an unknown branch', kind: 'usage', code: 2, args: () => ['fanout', FANOUT, '--branch', 'nope'], says: [/no such branch: nope/] },
  { name: 'fanout --branch with a newline in the name', kind: 'usage', code: 2, args: () => ['fanout', FANOUT, '--branch', 'no\npe'], says: [/no such branch/] },
  { name: 'digest without --parent', kind: 'usage', code: 2, args: () => ['digest', 'echo hi'], says: [/--parent/] },
  { name: 'schedule create without --every or --cron', kind: 'usage', code: 2, args: () => ['schedule', 'create', 'mycli', '--recipe', VERSIONED, '--release-url', HTTPS_RELEASE, '--tarball-field', 'tarball'], says: [/--every.*--cron/] },
  {
    name: 'schedule create with both --every and --cron',
    kind: 'usage',
    code: 2,
    args: () => ['schedule', 'create', 'mycli', '--recipe', VERSIONED, '--release-url', HTTPS_RELEASE, '--tarball-field', 'tarball', '--every', '1h', '--cron', '0 * * * *'],
    says: [/--every.*--cron/],
  },
  {
    name: 'schedule create with an http release URL and no --allow-http',
    kind: 'usage',
    code: 2,
    args: () => ['schedule', 'create', 'mycli', '--recipe', VERSIONED, '--release-url', 'http://127.0.0.1:9/release.json', '--tarball-field', 'tarball', '--every', '1h'],
    says: [/https/, /--allow-http/],
  },
  { name: 'schedule create with a recipe that has no {{version}}', kind: 'usage', code: 2, args: () => ['schedule', 'create', 'hello', '--recipe', HELLO, '--release-url', HTTPS_RELEASE, '--every', '1h'], says: [/\{\{version\}\}/] },

  // ---- configuration ----
  { name: 'SNAPBUILD_PROVIDER=morph without MORPH_API_KEY', kind: 'config', code: 2, env: { SNAPBUILD_PROVIDER: 'morph', MORPH_API_KEY: '' }, args: () => ['build', HELLO], says: [/MORPH_API_KEY/] },
  { name: 'MORPH_BASE_URL that is not a URL', kind: 'config', code: 2, env: { SNAPBUILD_PROVIDER: 'morph', MORPH_API_KEY: 'k', MORPH_BASE_URL: 'not a url' }, args: () => ['build', HELLO], says: [/MORPH_BASE_URL/] },
  { name: 'SNAPBUILD_PROVIDER=nonsense', kind: 'config', code: 2, env: { SNAPBUILD_PROVIDER: 'nonsense' }, args: () => ['build', HELLO], says: [/SNAPBUILD_PROVIDER/] },

  // ---- failures at run time ----
  { name: 'plan with an unknown base snapshot (local provider)', kind: 'runtime', code: 1, files: { r: 'base: snapshot_nope\nsteps: [echo hi]\n' }, args: (f) => ['plan', f('r')], says: [/snapshot_nope/, /not found|no such|unknown/i] },
  {
    name: 'build with an unreachable Temporal (TEMPORAL_ADDRESS=127.0.0.1:1)',
    kind: 'runtime',
    code: 1,
    withinMs: 20_000,
    env: { TEMPORAL_ADDRESS: '127.0.0.1:1' },
    args: () => ['build', HELLO],
    says: [/cannot reach the Temporal server at 127\.0\.0\.1:1/, /connect/i],
  },
  { name: 'status with an unreachable Temporal (TEMPORAL_ADDRESS=127.0.0.1:1)', kind: 'runtime', code: 1, withinMs: 20_000, env: { TEMPORAL_ADDRESS: '127.0.0.1:1' }, args: () => ['status', 'x'], says: [/cannot reach the Temporal server at 127\.0\.0\.1:1/, /connect/i] },
  {
    name: 'plan with an unreachable Morph API',
    kind: 'runtime',
    code: 1,
    withinMs: 20_000,
    env: { SNAPBUILD_PROVIDER: 'morph', MORPH_API_KEY: 'k', MORPH_BASE_URL: 'http://127.0.0.1:1/api' },
    args: () => ['plan', HELLO],
    says: [/ECONNREFUSED|connect|network/i],
  },
];

interface Outcome extends TimedRun {
  home: string;
  files: Record<string, string>;
}

const homes: string[] = [];
const outcomes = new Map<string, Promise<Outcome>>();

async function runCase(c: Case): Promise<Outcome> {
  const home = makeHome('snapbuild-chaos-bad-');
  homes.push(home);
  const files: Record<string, string> = {};
  const f = (name: string) => (files[name] ??= path.join(home, name));
  for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(f(name), typeof text === 'function' ? text() : text);
  for (const dir of c.dirs ?? []) mkdirSync(f(dir));
  const env = { SNAPBUILD_HOME: home, TEMPORAL_ADDRESS: '', SNAPBUILD_PROVIDER: 'local', SNAPBUILD_LOCAL_IMAGE_SIZE: '2G', SNAPBUILD_DEBUG: '', ...c.env };
  const args = c.args(f);
  const started = Date.now();
  const run: TimedRun = c.withinMs ? await snapbuildWithin(c.withinMs, args, env) : { ...(await snapbuild(args, env)), ms: 0, timedOut: false };
  return { ...run, ms: run.ms || Date.now() - started, home, files };
}

beforeAll(() => {
  // The timed cases start first, together (they mostly wait), beside only one other case so that their limit
  // measures the CLI rather than a busy machine; then the rest run 4 at a time (each is bound by ts-node's
  // start-up, on the CPU).
  const timed = cases.filter((c) => c.withinMs).map((c) => [c, runCase(c)] as const);
  const gate = Promise.allSettled(timed.map(([, p]) => p));
  const limit = limiter(1);
  void gate.then(() => limit.setLimit(4));
  for (const c of cases) {
    const p = timed.find(([t]) => t === c)?.[1] ?? limit(() => runCase(c));
    p.catch(() => undefined); // reported by the case's test
    outcomes.set(c.name, p);
  }
});

afterAll(async () => {
  await Promise.allSettled(outcomes.values()); // also when tests were filtered out and did not wait
  for (const home of homes) removeHome(home);
});

test('there are at least 30 cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(30);
  expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
});

test.each(cases)('$kind: $name', async (c) => {
  const r = await outcomes.get(c.name)!;
  // The exit code with what was printed, so that a failure shows the evidence.
  const summary = `exit ${r.code} after ${r.ms} ms${r.timedOut ? ' (killed: still running)' : ''}\n${r.stderr.slice(0, 600)}`;
  if (c.withinMs) expect(summary).not.toContain('(killed: still running)');
  expect(summary).toMatch(new RegExp(`^exit ${c.code} `));
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toMatch(STACK);
  expect(r.stderr).not.toMatch(RAW_CONTROL);
  expect(r.stderr.length).toBeLessThan(2000); // a refused 10 MB step is not echoed back
  expect(r.stderr.endsWith('\n')).toBe(true);

  const lines = r.stderr.slice(0, -1).split('\n');
  expect(lines[0]).toMatch(/^snapbuild: \S/);
  if (c.kind === 'recipe') {
    // The first line names the file; then one indented line per problem, at least one.
    expect(lines[0]).toBe(`snapbuild: ${r.files.r}: invalid recipe`);
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}\S/);
  } else {
    expect(lines).toHaveLength(1);
  }
  for (const word of c.says) expect(r.stderr).toMatch(word);

  // Nothing was started: no embedded Temporal server (its state lives in $SNAPBUILD_HOME/temporal).
  expect(existsSync(path.join(r.home, 'temporal'))).toBe(false);
}, 150_000);
