/**
 * Secrets never leak. A step names a secret (`secrets: [DEPLOY_TOKEN]`), the worker has its value, and the
 * step prints it; the build runs through the Morph client against the emulator with a distinctive API key.
 * Neither value may appear in the workflow histories (payloads decoded), the failures, the build result, the
 * SDK's logs or anything the process prints; the output tails show `***` where the secret was. The same is
 * checked through the CLI on the embedded default, including the embedded server's files on disk.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { startBuild } from '../../src/client';
import { normalizeRecipe } from '../../src/core/recipe';
import type { MorphProvider } from '../../src/providers/morph';
import { lookupPlan } from '../../src/providers/plan';
import { progressQuery } from '../../src/workflows/messages';
import { snapbuild } from '../helpers/cli';
import { openMorphTarget, type MorphTarget } from '../helpers/morph';
import { makeHome, removeHome, sdkLog, startCapturingWorker, type CapturingTemporal } from './support';

/** Distinctive values: base64url, so no shell or JSON quoting changes them, and never found by accident. */
const SECRET = `dt-${randomBytes(18).toString('base64url')}`;
const KEY = `mk-${randomBytes(18).toString('base64url')}`;
/** Shorter pieces count too: a tail cut in the middle of the secret must not show the rest of it. */
const WINDOW = 12;

/** The values that must not appear in `text`, and where: full values and every WINDOW-long piece of them. */
function leaksIn(text: string): string[] {
  const found: string[] = [];
  for (const [what, value] of [
    ['DEPLOY_TOKEN value', SECRET],
    ['MORPH_API_KEY', KEY],
  ] as const) {
    if (text.includes(value)) {
      found.push(`${what} (whole) at ...${text.slice(Math.max(0, text.indexOf(value) - 60), text.indexOf(value) + value.length + 20)}...`);
      continue;
    }
    for (let i = 0; i + WINDOW <= value.length; i++) {
      const piece = value.slice(i, i + WINDOW);
      const at = text.indexOf(piece);
      if (at >= 0) {
        found.push(`${what} (characters ${i}..${i + WINDOW} of ${value.length}) at ...${text.slice(Math.max(0, at - 60), at + WINDOW + 20)}...`);
        break;
      }
    }
  }
  return found;
}

test('the leak check finds whole values and pieces of them', () => {
  expect(leaksIn(`a ${SECRET} b`)).toHaveLength(1);
  expect(leaksIn(`a ${KEY.slice(3, 3 + WINDOW)} b`)).toHaveLength(1);
  expect(leaksIn(`a ${SECRET.slice(0, WINDOW - 1)} b ${SECRET.slice(-(WINDOW - 1))}`)).toEqual([]);
});

function expectNoLeak(label: string, text: string): void {
  expect({ [label]: leaksIn(text) }).toEqual({ [label]: [] });
}

/** Every string in a JSON tree, and each base64 string decoded too (payload data is base64 in history JSON). */
function withDecodedPayloads(json: string): string {
  const out: string[] = [json];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.length >= 4 && v.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(v)) out.push(Buffer.from(v, 'base64').toString('utf8'));
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(JSON.parse(json));
  return out.join('\n');
}

/** An error and its whole cause chain: names, messages, types, details, stacks. */
function describeFailure(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let e: unknown = err; e && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const f = e as { name?: string; message?: string; type?: string; details?: unknown; stack?: string; failure?: unknown };
    parts.push(JSON.stringify({ name: f.name, message: f.message, type: f.type, details: f.details, stack: f.stack }));
    if (f.failure) parts.push(JSON.stringify(f.failure));
  }
  return parts.join('\n');
}

describe('through the Morph client against the emulator, with an in-process worker', () => {
  let target: MorphTarget;
  let morph: MorphProvider;
  let temporal: CapturingTemporal;
  const printed: string[] = [];
  const previousToken = process.env.DEPLOY_TOKEN;

  beforeAll(async () => {
    // Everything this process prints or logs from here on, passed through.
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
      jest.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
        printed.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
        return write(chunk, ...rest);
      }) as typeof stream.write);
    }
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      const original = console[method].bind(console);
      jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        printed.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a) ?? String(a))).join(' '));
        original(...args);
      });
    }
    process.env.DEPLOY_TOKEN = SECRET; // the in-process worker's environment: createWorker resolves secrets from it
    target = await openMorphTarget(KEY);
    morph = target.morph;
    temporal = await startCapturingWorker(morph);
  });

  afterAll(async () => {
    await temporal?.close();
    await target?.close();
    if (previousToken === undefined) delete process.env.DEPLOY_TOKEN;
    else process.env.DEPLOY_TOKEN = previousToken;
    jest.restoreAllMocks();
  });

  async function start(recipe: unknown): Promise<WorkflowHandle> {
    const spec = normalizeRecipe(recipe);
    const plan = await lookupPlan(morph, spec.base, spec.steps.map((s) => s.identifier));
    return startBuild(temporal.client, { spec, plan, taskQueue: temporal.taskQueue, recipeName: 'secrets.yaml' });
  }

  const marker = () => `secrets-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
  const printsToken = { run: 'echo "token=$DEPLOY_TOKEN"', secrets: ['DEPLOY_TOKEN'] };

  test('a successful and a failing build: the secret and the API key appear nowhere; tails show ***', async () => {
    const okHandle = await start({ base: 'morphvm-minimal', steps: [`echo ${marker()}`, printsToken] });
    const result = await okHandle.result();
    expect(result.steps.map((s: { state: string }) => s.state)).toEqual(['built', 'built']);

    const failHandle = await start({
      base: 'morphvm-minimal',
      steps: [`echo ${marker()}`, printsToken, { run: 'echo $DEPLOY_TOKEN >&2; exit 3', secrets: ['DEPLOY_TOKEN'] }],
    });
    const err = await failHandle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failure = (err as WorkflowFailedError).cause?.cause as { type?: string; message: string; details?: unknown[] } | undefined;
    expect(failure?.type).toBe('StepFailed');
    expect(failure?.message).toMatch(/^step 2 \(echo \$DEPLOY_TOKEN >&2; exit 3\) exited with code 3\n\*\*\*$/);
    expect(failure?.details?.[0]).toMatchObject({ stepIndex: 2, exitCode: 3, outputTail: '***' });

    const okHistory = withDecodedPayloads(historyToJSON(await okHandle.fetchHistory()));
    const failHistory = withDecodedPayloads(historyToJSON(await failHandle.fetchHistory()));
    // The step's output tail went through history with the secret redacted (the activity's result) ...
    expect(okHistory).toContain('token=***');
    expect(failHistory).toContain('token=***');
    // ... and the secret's name did, as a name.
    expect(okHistory).toContain('DEPLOY_TOKEN');

    expectNoLeak('history of the successful build', okHistory);
    expectNoLeak('history of the failed build', failHistory);
    expectNoLeak('failure (message, details, causes)', describeFailure(err));
    expectNoLeak('build result', JSON.stringify(result));
    expectNoLeak('progress query', JSON.stringify(await failHandle.query(progressQuery).catch(() => null)));
    expectNoLeak('stdout, stderr and console', printed.join(''));
    // The capture works: the worker logged the failed step, with its (redacted) message. The SDK may log it
    // just after the client has seen the workflow fail, so allow it a moment.
    for (let i = 0; i < 50 && !sdkLog.join('\n').includes('exited with code 3'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(sdkLog.join('\n')).toContain('exited with code 3');
    expectNoLeak('SDK log (DEBUG)', sdkLog.join('\n'));
  });

  test('a secret cut by the output-tail limit (4000 characters) does not leak its remaining characters', async () => {
    // The secret, then padding on the same line so that the 4000-character tail starts inside the secret,
    // 20 characters before its end.
    const pad = 4000 - 20;
    const handle = await start({
      base: 'morphvm-minimal',
      steps: [`echo ${marker()}`, { run: `printf '%s' "$DEPLOY_TOKEN"; head -c ${pad} /dev/zero | tr '\\0' x; echo; exit 4`, secrets: ['DEPLOY_TOKEN'] }],
    });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(describeFailure(err)).toContain('exited with code 4');
    expectNoLeak('failure (message, details, causes)', describeFailure(err));
    expectNoLeak('history', withDecodedPayloads(historyToJSON(await handle.fetchHistory())));
    expectNoLeak('SDK log (DEBUG)', sdkLog.join('\n'));
  });
});

describe('through the CLI (embedded default, SNAPBUILD_PROVIDER=morph, emulator)', () => {
  let target: MorphTarget;
  let home: string;

  beforeAll(async () => {
    target = await openMorphTarget(KEY);
    home = makeHome('snapbuild-chaos-secrets-');
  });
  afterAll(async () => {
    await target?.close();
    if (home) removeHome(home);
  });

  /** Every file the embedded Temporal server left under $SNAPBUILD_HOME/temporal (database, WAL, log). */
  function serverFiles(): string {
    const dir = path.join(home, 'temporal');
    return readdirSync(dir)
      .map((f) => path.join(dir, f))
      .filter((f) => statSync(f).isFile())
      .map((f) => `== ${f}\n${readFileSync(f).toString('latin1')}`)
      .join('\n');
  }

  test('neither the secret nor the API key is printed, for a passing and a failing recipe; the tail shows ***', async () => {
    const env = {
      SNAPBUILD_HOME: home,
      TEMPORAL_ADDRESS: '',
      SNAPBUILD_PROVIDER: 'morph',
      MORPH_BASE_URL: target.emulator.url,
      MORPH_API_KEY: KEY,
      DEPLOY_TOKEN: SECRET,
      SNAPBUILD_DEBUG: '',
    };
    const stamp = `${Date.now()}-${process.pid}`;
    const okRecipe = path.join(home, 'ok.yaml');
    writeFileSync(okRecipe, `base: morphvm-minimal\nsteps:\n  - echo ${stamp}\n  - run: echo "token=$DEPLOY_TOKEN"\n    secrets: [DEPLOY_TOKEN]\n`);
    const failRecipe = path.join(home, 'fail.yaml');
    writeFileSync(
      failRecipe,
      `base: morphvm-minimal\nsteps:\n  - echo ${stamp}\n  - run: echo "token=$DEPLOY_TOKEN"\n    secrets: [DEPLOY_TOKEN]\n` +
        `  - run: echo $DEPLOY_TOKEN >&2; exit 3\n    secrets: [DEPLOY_TOKEN]\n`,
    );

    const ok = await snapbuild(['build', okRecipe, '--json'], env);
    expect({ code: ok.code, stderr: ok.stderr.slice(-1500) }).toMatchObject({ code: 0 });
    expect(JSON.parse(ok.stdout).steps.map((s: { state: string }) => s.state)).toEqual(['built', 'built']);
    expectNoLeak('stdout of the passing build', ok.stdout);
    expectNoLeak('stderr of the passing build', ok.stderr);

    const failed = await snapbuild(['build', failRecipe, '--json'], env);
    expect({ code: failed.code, stderr: failed.stderr.slice(-1500) }).toMatchObject({ code: 1 });
    expect(failed.stderr).toContain('snapbuild: build failed: step 2 (echo $DEPLOY_TOKEN >&2; exit 3) exited with code 3\n***\n');
    expectNoLeak('stdout of the failing build', failed.stdout);
    expectNoLeak('stderr of the failing build', failed.stderr);

    // What the embedded server keeps on disk: its history database and its log. The redacted tail is there
    // (so the scan does read history), the values are not.
    const files = serverFiles();
    expect(files).toContain('token=***');
    expectNoLeak('embedded Temporal server files', files);
  });
});
