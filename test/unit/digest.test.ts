import fixture from '../fixtures/pyrepr.json';
import { canonicalJson, chainDigest, chainDigests, shellIdentifier, snapbuildIdentifier } from '../../src/core/digest';
import { pyrepr } from '../../src/core/pyrepr';

describe('chainDigest', () => {
  test('matches the Morph Python SDK vectors', () => {
    const [hi, bye] = chainDigests('snapshot_abc', ['echo hi', 'echo bye'].map(shellIdentifier));
    expect(hi).toBe('1779e7f4a81d9d0745e94b324501b518f10675920ccbe6e91e68a21df909b530');
    expect(bye).toBe('8b34bae76e43a8c4d15ef12012d3d4d6611556558a32926df3ba7e150a60ea56');
  });

  test('is sha256 of the parent, one newline and the identifier', () => {
    // python3 -c "import hashlib; print(hashlib.sha256(b'parent\\nident').hexdigest())"
    expect(chainDigest('parent', 'ident')).toBe('908101b3ef1336c477b9fcfa227d63deaa9b332af5fb8672ae6db5e8e34abe70');
  });

});

describe('pyrepr against CPython', () => {
  test(`reproduces repr() for ${fixture.cases.length} strings (CPython ${fixture.python})`, () => {
    const mismatches = fixture.cases.filter((c) => pyrepr(c.s) !== c.repr).map((c) => ({ s: c.s, expected: c.repr, got: pyrepr(c.s) }));
    expect(mismatches).toEqual([]);
  });

  test('gives the Python digest chain for every fixture string', () => {
    const mismatches = fixture.cases.filter((c) => chainDigest('snapshot_abc', shellIdentifier(c.s)) !== c.digest).map((c) => c.s);
    expect(mismatches).toEqual([]);
  });

  test.each([
    ["it's", `"it's"`],
    ['say "hi"', `'say "hi"'`],
    [`both ' and "`, `'both \\' and "'`],
    ['a\\b', `'a\\\\b'`],
    ['a\nb\tc\rd', `'a\\nb\\tc\\rd'`],
    ['\x00\x1f\x7f', `'\\x00\\x1f\\x7f'`],
    ['café 日本', `'café 日本'`],
    ['\u200b\u2028\ufeff', `'\\u200b\\u2028\\ufeff'`],
    ['\u00a0\u00ad', `'\\xa0\\xad'`],
    ['😀\u{e0001}', `'😀\\U000e0001'`],
  ])('pyrepr(%j) is %s', (input, expected) => {
    expect(pyrepr(input)).toBe(expected);
  });
});

describe('snapbuild identifiers', () => {
  test('canonical JSON sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  });

  test('differ from the Python identifier and depend on every key input', () => {
    const a = snapbuildIdentifier('shell', 1, { run: 'make', env: { A: '1' } });
    expect(a).toBe('snapbuild:shell@v1{"env":{"A":"1"},"run":"make"}');
    expect(snapbuildIdentifier('shell', 1, { run: 'make', env: { A: '2' } })).not.toBe(a);
    expect(snapbuildIdentifier('shell', 2, { run: 'make', env: { A: '1' } })).not.toBe(a);
  });
});
