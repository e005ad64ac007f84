/**
 * The recipe: a base, ordered steps, and optional tag, metadata and debugging options. Parsed with zod at the
 * boundary and normalised into {@link BuildSpec}, the plain data every later stage works from.
 */
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { shellIdentifier, snapbuildIdentifier } from './digest';
import { renderTemplate } from './template';
import { shellQuote } from './shell';
import type { BranchSpec, BuildSpec, RecipeSpec, StepSpec } from './types';

export const DEFAULT_STEP_TIMEOUT_SECONDS = 30 * 60;
export const DEFAULT_STEP_RETRIES = 2;
export const MAX_STEPS = 120;
/** One command's limit; larger scripts belong in files the recipe installs. */
export const MAX_COMMAND_BYTES = 64 * 1024;
/** All commands together: a build's workflow input must stay well under Temporal's 2 MiB payload limit. */
export const MAX_TOTAL_COMMAND_BYTES = 512 * 1024;
/** The default TTL of a builder instance kept for debugging after a failure. */
export const KEEP_FAILED_DEFAULT_SECONDS = 30 * 60;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Seconds from `90`, `"90s"`, `"15m"`, `"1.5h"` or `"500ms"`. */
export function parseDuration(value: number | string): number | undefined {
  if (typeof value === 'number') return value;
  const m = DURATION.exec(value.trim());
  return m ? Number(m[1]) * UNIT_SECONDS[m[2]] : undefined;
}

const duration = z
  .union([z.number(), z.string()], { error: 'must be a duration between 1ms and 24h, like 90, "90s" or "15m"' })
  .transform((v, ctx) => {
    const seconds = parseDuration(v);
    if (seconds === undefined || !(seconds > 0) || seconds > 24 * 3600) {
      ctx.addIssue({ code: 'custom', message: `must be a duration between 1ms and 24h, like 90, "90s" or "15m" (got ${JSON.stringify(v)})` });
      return z.NEVER;
    }
    return seconds;
  });

const envName = z.string().regex(ENV_NAME, 'must be a variable name: letters, digits and _, not starting with a digit');
const command = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required: the shell command to run' : 'must be a shell command string') })
  .refine((s) => s.trim().length > 0, 'must be a non-empty shell command')
  .superRefine((s, ctx) => {
    const bytes = Buffer.byteLength(s);
    if (bytes > MAX_COMMAND_BYTES) ctx.addIssue({ code: 'custom', message: `is ${bytes} bytes long; a command may be at most ${MAX_COMMAND_BYTES} bytes (put large scripts in a file)` });
  });

const stepObject = z.strictObject({
  run: command,
  name: z.string().min(1).max(200).optional(),
  timeout: duration.optional(),
  env: z
    .record(z.string(), z.string())
    .superRefine((env, ctx) => {
      for (const key of Object.keys(env)) {
        if (!ENV_NAME.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'must be a variable name: letters, digits and _, not starting with a digit' });
      }
    })
    .optional(),
  secrets: z.array(envName).max(50).optional(),
  retries: z.number().int().min(0).max(10).optional(),
  /** A verification gate: a branch whose verify step fails is reported "rejected", and its tag does not move. */
  verify: z.boolean().optional(),
  /** A check: exit codes that mean "not approved", each with what it means (e.g. 42: this version is not approved yet). */
  outcomes: z
    .record(z.string(), z.string().min(1).max(200))
    .superRefine((outcomes, ctx) => {
      for (const code of Object.keys(outcomes)) {
        if (!/^([1-9]\d?|1\d\d|2[0-4]\d|25[0-5])$/.test(code)) ctx.addIssue({ code: 'custom', path: [code], message: 'exit codes are 1 to 255' });
      }
    })
    .optional(),
});

// A string step is shorthand for `{ run: <string> }`. Anything else that is not an object gets one clear
// message; a YAML scalar such as `- true` or `- 42` is named, since YAML does not read it as a string.
const stepSchema = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() ? { run: v } : v),
  z.strictObject(stepObject.shape, {
    error: (issue) => {
      if (issue.code !== 'invalid_type') return undefined;
      const input: unknown = issue.input;
      if (typeof input === 'string') return 'must be a non-empty shell command';
      if (typeof input === 'number' || typeof input === 'boolean') {
        return `must be a shell command string: YAML read ${JSON.stringify(input)} as a ${typeof input}, so quote it`;
      }
      return 'must be a shell command string or an object with "run"';
    },
  }),
);

const metadata = z.record(z.string().min(1).max(256), z.string().max(4096));

/** Names used in tags (`<app>:<branch>`) and workflow ids: printable, no control characters, bounded. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
export const branchName = z
  .string()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .refine((s) => !CONTROL.test(s), 'must not contain control characters')
  .refine((s) => s.trim() === s, 'must not start or end with spaces');

const branchSchema = z.strictObject({
  steps: z.array(stepSchema).max(MAX_STEPS).default([]),
  tag: z.string().min(1).max(256).optional(),
  metadata: metadata.optional(),
});

export const recipeSchema = z.strictObject({
  /** A snapshot id or base image, or one per provider (`{ local: host, morph: morphvm-minimal }`). */
  base: z.union([z.string().min(1, 'must name a snapshot id or a base image'), z.partialRecord(z.enum(['local', 'morph']), z.string().min(1)).refine((m) => Object.keys(m).length > 0, 'must map at least one provider (local, morph) to a base')], {
    error: 'must name a snapshot id or a base image, or map providers to one (local: host, morph: morphvm-minimal)',
  }),
  /** The application name: tags are `<name>:<branch>`. Defaults to the recipe file's name. */
  name: branchName.optional(),
  steps: z.array(stepSchema).min(1, 'must list at least one step').max(MAX_STEPS),
  /** Variants built on top of `steps`, each with its own steps (which may use `{branch}`). */
  branches: z
    .record(z.string(), branchSchema)
    .superRefine((branches, ctx) => {
      for (const name of Object.keys(branches)) {
        const r = branchName.safeParse(name);
        if (!r.success) ctx.addIssue({ code: 'custom', path: [name], message: `branch name ${r.error.issues[0].message}` });
      }
      if (Object.keys(branches).length === 0) ctx.addIssue({ code: 'custom', message: 'must name at least one branch (or leave branches out)' });
    })
    .optional(),
  tag: z.string().min(1).max(256).optional(),
  metadata: metadata.optional(),
  /** true keeps a failed builder for the default TTL, a duration for that long, false not at all. */
  keepFailedInstance: z.preprocess((v) => (v === true ? KEEP_FAILED_DEFAULT_SECONDS : v === false ? undefined : v), duration.optional()),
});

export type RecipeInput = z.input<typeof recipeSchema>;

const MAX_PROBLEMS_SHOWN = 12;

/** A recipe that failed validation; `problems` has one line per problem, each naming its path. */
export class RecipeError extends Error {
  override name = 'RecipeError';
  constructor(
    public readonly source: string,
    public readonly problems: string[],
  ) {
    const shown = problems.slice(0, MAX_PROBLEMS_SHOWN).map((p) => `  ${p}`);
    if (problems.length > MAX_PROBLEMS_SHOWN) shown.push(`  ... and ${problems.length - MAX_PROBLEMS_SHOWN} more problems`);
    super(`${source}: invalid recipe\n${shown.join('\n')}`);
  }
}

/** `['steps', 3, 'timeout']` -> `steps[3].timeout`; a key that is not a plain word is quoted: `branches["a b"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (!/^[A-Za-z0-9_/:.+@-]+$/.test(String(part))) out += `[${JSON.stringify(String(part))}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(recipe)';
}

/** A user-given name, safe to print on one line: quoted and escaped if it holds anything but printable text. */
export function printable(name: string): string {
  return /^[\x20-\x7e\u00a0-\uffff]*$/.test(name) && !/[\u2028\u2029]/.test(name) ? name : JSON.stringify(name);
}

/** Validates and normalises an already-decoded recipe. Throws {@link RecipeError}. */
export function normalizeRecipe(input: unknown, source = 'recipe'): RecipeSpec {
  const parsed = recipeSchema.safeParse(input);
  if (!parsed.success) {
    throw new RecipeError(
      source,
      parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`),
    );
  }
  const r = parsed.data;
  const steps: StepSpec[] = r.steps.map((s, index) => toStepSpec(s, index));
  const problems: string[] = [];
  const branches: BranchSpec[] = Object.entries(r.branches ?? {}).map(([name, b]) => {
    const branchSteps = b.steps.map((s, i) => toStepSpec({ ...s, run: renderTemplate(s.run, { branch: name }) }, steps.length + i));
    checkVerifyLast(branchSteps, `${formatPath(['branches', name])}.steps`, problems);
    return { name, steps: branchSteps, tag: b.tag, metadata: b.metadata ?? {} };
  });
  checkVerifyLast(steps, 'steps', problems);
  const total = [...steps, ...branches.flatMap((b) => b.steps)].reduce((n, st) => n + Buffer.byteLength(st.run), 0);
  if (total > MAX_TOTAL_COMMAND_BYTES) {
    problems.push(`steps: the commands add up to ${total} bytes; a recipe may have at most ${MAX_TOTAL_COMMAND_BYTES} (put large scripts in files)`);
  }
  if (problems.length) throw new RecipeError(source, problems);
  return {
    base: r.base,
    name: r.name,
    steps,
    branches,
    tag: r.tag,
    metadata: r.metadata ?? {},
    keepFailedInstanceSeconds: Math.ceil(r.keepFailedInstance ?? 0),
  };
}

/** Verification steps gate what comes after them, so they must all come last. */
function checkVerifyLast(steps: StepSpec[], path: string, problems: string[]): void {
  const firstVerify = steps.findIndex((s) => s.verify);
  if (firstVerify < 0) return;
  steps.slice(firstVerify).forEach((s, i) => {
    if (!s.verify) problems.push(`${path}[${firstVerify + i}]: must come before every verify step (verify steps come last)`);
  });
}

type StepObject = z.output<typeof stepObject>;

function identifierFor(run: string, env: Record<string, string>): string {
  return Object.keys(env).length === 0 ? shellIdentifier(run) : snapbuildIdentifier('shell', 1, { run, env });
}

function toStepSpec(s: StepObject, index: number): StepSpec {
  const env = s.env ?? {};
  // A plain command keeps the Python SDK's identifier so that layers are shared with it. Environment variables
  // change the effect, so a step with `env` gets a snapbuild identifier that includes them. Names, timeouts,
  // retries and secrets do not change what the step builds and never enter the digest.
  const identifier = identifierFor(s.run, env);
  return {
    index,
    run: s.run,
    name: s.name,
    identifier,
    timeoutSeconds: s.timeout ?? DEFAULT_STEP_TIMEOUT_SECONDS,
    env,
    secrets: s.secrets ?? [],
    retries: s.retries ?? DEFAULT_STEP_RETRIES,
    verify: s.verify ?? false,
    outcomes: s.outcomes ?? {},
  };
}

/** The base a recipe names for `provider`. Throws {@link RecipeError} when it names none. */
export function baseFor(base: RecipeSpec['base'], provider: string, source = 'recipe'): string {
  if (typeof base === 'string') return base;
  const chosen = base[provider];
  if (!chosen) throw new RecipeError(source, [`base: names no base for provider ${provider} (it has: ${Object.keys(base).join(', ')})`]);
  return chosen;
}

/** The names a recipe's steps may use as `{{name}}`, filled in from a release. */
export const RELEASE_VARIABLES = ['version', 'tarball'] as const;

/** The release variables a recipe uses. */
export function usedVariables(spec: RecipeSpec): string[] {
  const runs = [...spec.steps, ...spec.branches.flatMap((b) => b.steps)].map((s) => s.run).join('\n');
  return RELEASE_VARIABLES.filter((v) => runs.includes(`{{${v}}}`));
}

/** Fills `{{name}}` templates with shell-quoted values and recomputes each step's identifier. */
export function renderSpec<T extends BuildSpec>(spec: T, vars: Record<string, string>): T {
  const render = (s: StepSpec): StepSpec => {
    const run = Object.entries(vars).reduce((text, [k, v]) => text.split(`{{${k}}}`).join(shellQuote(v)), s.run);
    return { ...s, run, identifier: identifierFor(run, s.env) };
  };
  const branches = (spec as unknown as RecipeSpec).branches;
  return { ...spec, steps: spec.steps.map(render), ...(branches ? { branches: branches.map((b) => ({ ...b, steps: b.steps.map(render) })) } : {}) };
}

/** Decodes YAML or JSON text (JSON is YAML) and normalises it. Throws {@link RecipeError}. */
export function parseRecipeText(text: string, source = 'recipe'): RecipeSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    throw new RecipeError(source, [`(syntax): ${msg}`]);
  }
  return normalizeRecipe(doc, source);
}
