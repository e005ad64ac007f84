import { baseFor, normalizeRecipe, parseDuration, parseRecipeText, RecipeError } from '../../src/core/recipe';
import { shellIdentifier } from '../../src/core/digest';

function problems(input: unknown): string[] {
  try {
    normalizeRecipe(input);
  } catch (err) {
    expect(err).toBeInstanceOf(RecipeError);
    return (err as RecipeError).problems;
  }
  throw new Error('expected the recipe to be rejected');
}

describe('recipe validation', () => {
  test('names the path of every problem, one line each', () => {
    expect(
      problems({
        base: '',
        steps: ['echo ok', { run: 'x', timeout: 'soon' }, { run: 'y', retries: -1 }, { run: 'z', env: { '1BAD': 'v' } }, { cmd: 'oops' }, 42],
        keepFailedInstance: 'maybe',
        extra: true,
      }),
    ).toEqual([
      'base: must name a snapshot id or a base image',
      'steps[1].timeout: must be a duration between 1ms and 24h, like 90, "90s" or "15m" (got "soon")',
      'steps[2].retries: Too small: expected number to be >=0',
      'steps[3].env.1BAD: must be a variable name: letters, digits and _, not starting with a digit',
      'steps[4].run: is required: the shell command to run',
      'steps[4]: Unrecognized key: "cmd"',
      'steps[5]: must be a shell command string: YAML read 42 as a number, so quote it',
      'keepFailedInstance: must be a duration between 1ms and 24h, like 90, "90s" or "15m" (got "maybe")',
      '(recipe): Unrecognized key: "extra"',
    ]);
  });

  test('rejects an empty step list and blank commands', () => {
    expect(problems({ base: 'host', steps: [] })).toEqual(['steps: must list at least one step']);
    expect(problems({ base: 'host', steps: ['  '] })).toEqual(['steps[0]: must be a non-empty shell command']);
    expect(problems({ base: 'host', steps: [true] })).toEqual(['steps[0]: must be a shell command string: YAML read true as a boolean, so quote it']);
    expect(problems({ steps: ['true'] })[0]).toMatch(/^base: /);
  });

  test('reports YAML syntax errors and duplicate keys as recipe problems', () => {
    expect(() => parseRecipeText('base: host\nsteps: [unclosed', 'r.yaml')).toThrow(RecipeError);
    expect(() => parseRecipeText('base: a\nbase: b\nsteps: [x]', 'r.yaml')).toThrow(/r\.yaml: invalid recipe/);
  });
});

describe('recipe normalisation', () => {
  test('keeps Python-compatible identifiers for plain commands, whatever the display name, timeout or secrets', () => {
    const spec = normalizeRecipe({
      base: 'host',
      steps: ['echo hi', { run: 'echo hi', name: 'greet', timeout: '5m', retries: 0, secrets: ['TOKEN'] }],
    });
    expect(spec.steps[0].identifier).toBe(shellIdentifier('echo hi'));
    expect(spec.steps[1].identifier).toBe(shellIdentifier('echo hi'));
    expect(spec.steps[1]).toMatchObject({ name: 'greet', timeoutSeconds: 300, retries: 0, secrets: ['TOKEN'] });
    expect(spec.steps[0]).toMatchObject({ timeoutSeconds: 1800, retries: 2, secrets: [], env: {} });
  });

  test('gives steps with env their own identifier', () => {
    const spec = normalizeRecipe({ base: 'host', steps: [{ run: 'make', env: { CC: 'clang' } }] });
    expect(spec.steps[0].identifier).toBe('snapbuild:shell@v1{"env":{"CC":"clang"},"run":"make"}');
  });

  test('reads JSON as well as YAML, and keepFailedInstance as a boolean or a duration', () => {
    expect(parseRecipeText('{"base":"host","steps":["true"],"keepFailedInstance":true}').keepFailedInstanceSeconds).toBe(1800);
    expect(parseRecipeText('{"base":"host","steps":["true"],"keepFailedInstance":false}').keepFailedInstanceSeconds).toBe(0);
    expect(parseRecipeText('base: host\nsteps: ["true"]\nkeepFailedInstance: 90s').keepFailedInstanceSeconds).toBe(90);
  });

  test('a base may be given per provider', () => {
    const spec = normalizeRecipe({ base: { local: 'host', morph: 'snapshot_x' }, steps: ['true'] });
    expect(baseFor(spec.base, 'local')).toBe('host');
    expect(baseFor(spec.base, 'morph')).toBe('snapshot_x');
    expect(() => baseFor(normalizeRecipe({ base: { local: 'host' }, steps: ['true'] }).base, 'morph')).toThrow(/base: names no base for provider morph \(it has: local\)/);
    expect(problems({ base: { aws: 'ami-1' }, steps: ['true'] })).toEqual(['base: Unrecognized key: "aws"', 'base: must map at least one provider (local, morph) to a base']);
    expect(problems({ base: 42, steps: ['true'] })[0]).toMatch(/^base: must name a snapshot id or a base image, or map providers/);
  });

  test.each([
    [90, 90],
    ['90s', 90],
    ['15m', 900],
    ['1.5h', 5400],
    ['500ms', 0.5],
    ['soon', undefined],
  ])('parseDuration(%j) = %j', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });
});
