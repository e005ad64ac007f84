/**
 * Layer digests: pure functions, no I/O. Never imported by workflow code (it needs `node:crypto`).
 *
 * digest = hex(sha256(utf8(parent) || "\n" || utf8(identifier))), exactly as the Morph SDKs chain them.
 */
import { createHash } from 'node:crypto';
import { pyrepr } from './pyrepr';

/** One link of the chain: the digest of a step applied on top of `parent` (a digest or a snapshot id). */
export function chainDigest(parent: string, identifier: string): string {
  return createHash('sha256').update(parent, 'utf8').update('\n').update(identifier, 'utf8').digest('hex');
}

/**
 * The identifier the Morph Python SDK gives a shell command (`Snapshot.exec`, `Snapshot.setup`, string steps of
 * `Snapshot.build`), so that the same base and commands yield the same digests in both tools.
 */
export function shellIdentifier(command: string): string {
  return `_run_command_effect(){'command': ${pyrepr(command)}, 'background': False, 'get_pty': True}`;
}

/**
 * The identifier of a step that is not a plain shell string: a kind and version tag, then the canonical JSON
 * of the inputs that define the step's effect. Bump `version` when the meaning of a kind changes.
 */
export function snapbuildIdentifier(kind: string, version: number, key: unknown): string {
  return `snapbuild:${kind}@v${version}${canonicalJson(key)}`;
}

/** JSON with object keys sorted at every level and no whitespace: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The digest of every step in order, each chained from the one before, starting at `root`. */
export function chainDigests(root: string, identifiers: readonly string[]): string[] {
  const digests: string[] = [];
  let parent = root;
  for (const id of identifiers) {
    parent = chainDigest(parent, id);
    digests.push(parent);
  }
  return digests;
}
