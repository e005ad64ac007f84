/**
 * Step templates: `{{name}}` (and, for branch names, `{name}`) replaced by a shell-quoted value. Only the names
 * passed in are replaced, so shell syntax such as `${HOME}` or `{a,b}` is left alone. Pure.
 */
import { shellQuote } from './shell';

/** Replaces `{{name}}` and `{name}` for every name in `vars` with the value, shell-quoted as one word. */
export function renderTemplate(text: string, vars: Record<string, string>): string {
  let out = text;
  for (const [name, value] of Object.entries(vars)) {
    const quoted = shellQuote(value);
    out = out.split(`{{${name}}}`).join(quoted).split(`{${name}}`).join(quoted);
  }
  return out;
}
