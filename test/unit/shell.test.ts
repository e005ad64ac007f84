import { spawnSync } from 'node:child_process';
import { exportPrefix, shellQuote } from '../../src/core/shell';

const nasty = ['plain', '', 'two words', "it's", '"dq"', '$(rm -rf /)', '`id`', '${HOME}', 'a;b&&c|d', 'new\nline', 'tab\tx', '\\back\\', '*?[x]', '~user', '-n', 'ünï €'];

test.each(nasty)('shellQuote(%j) reaches bash as exactly one literal word', (value) => {
  const r = spawnSync('bash', ['-c', `printf '%s\\0' ${shellQuote(value)}`], { encoding: 'utf8' });
  expect(r.stdout).toBe(`${value}\0`);
});

test('exportPrefix exports every variable, quoted', () => {
  const prefix = exportPrefix({ A: "x'y", B: '$(echo no)' });
  expect(prefix).toBe(`export A='x'\\''y' B='$(echo no)'; `);
  const r = spawnSync('bash', ['-c', `${prefix}printf '%s|%s' "$A" "$B"`], { encoding: 'utf8' });
  expect(r.stdout).toBe("x'y|$(echo no)");
  expect(exportPrefix({})).toBe('');
});
