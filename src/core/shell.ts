/** Shell quoting: pure. Every value put into a command line goes through `shellQuote`. */

/** Quotes `value` as one POSIX shell word: nothing inside is expanded or interpreted. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `export A='1' B='2'; ` for a set of environment variables (names must already be valid). */
export function exportPrefix(env: Record<string, string>): string {
  const names = Object.keys(env);
  if (names.length === 0) return '';
  return `export ${names.map((n) => `${n}=${shellQuote(env[n])}`).join(' ')}; `;
}
