/**
 * A faithful port of CPython's `repr()` for `str` (Objects/unicodeobject.c, `unicode_repr`).
 *
 * The Morph Python SDK keys a shell step by text that embeds `repr(command)`, so snapbuild must reproduce it
 * byte for byte to share layers with `Snapshot.build` in Python.
 *
 * Printability follows Python's `str.isprintable`: a code point is printable unless its general category is
 * Cc, Cf, Cs, Co, Cn, Zl, Zp or Zs (the ASCII space excepted). Categories come from the JavaScript engine's
 * Unicode tables, so code points assigned after the running Python's Unicode version can differ (see README).
 */

const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function hex(codePoint: number, width: number): string {
  return codePoint.toString(16).padStart(width, '0');
}

/** Python's `repr(s)` for a `str`. */
export function pyrepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + hex(cp, 2);
    else if (cp < 0x7f) out += ch;
    else if (cp !== 0x20 && NON_PRINTABLE.test(ch)) {
      if (cp <= 0xff) out += '\\x' + hex(cp, 2);
      else if (cp <= 0xffff) out += '\\u' + hex(cp, 4);
      else out += '\\U' + hex(cp, 8);
    } else out += ch;
  }
  return out + quote;
}
