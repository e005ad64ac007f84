/**
 * Release descriptors: where the version and tarball are in a feed's JSON, and what a valid value looks like.
 * Pure: the fetch is in src/release/fetch.ts. Every value that passes here is still shell-quoted when it is put
 * into a step; validation is the first wall, quoting the second.
 */
import { z } from 'zod';

/** Semver-like: 1, 1.2, 1.2.3, 1.2.3.4, an optional leading v, an optional -pre or +build of [0-9A-Za-z.-]. */
export const VERSION_PATTERN = /^v?\d{1,9}(\.\d{1,9}){0,3}([-+][0-9A-Za-z.-]{1,64})?$/;

export interface ReleaseSource {
  url: string;
  /** JSON pointer (`/tag_name`) or dotted path (`assets.0.browser_download_url`) of the version. */
  versionField: string;
  /** Where the tarball URL is, if the recipe uses {{tarball}}. */
  tarballField?: string;
  /** Allow plain http (loopback tests); https otherwise. */
  allowHttp: boolean;
  maxBytes: number;
  timeoutMs: number;
}

export const DEFAULT_RELEASE_LIMITS = { maxBytes: 1024 * 1024, timeoutMs: 10_000 };

/** Characters that have no business in a release URL and a meaning to a shell. */
const SHELL_META = /[\s$`'"\\;|&<>(){}*?!#~^]/;

export const releaseSourceSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  versionField: z.string().min(1).max(200).default('version'),
  tarballField: z.string().min(1).max(200).optional(),
  allowHttp: z.boolean().default(false),
  maxBytes: z.number().int().min(1).max(64 * 1024 * 1024).default(DEFAULT_RELEASE_LIMITS.maxBytes),
  timeoutMs: z.number().int().min(100).max(120_000).default(DEFAULT_RELEASE_LIMITS.timeoutMs),
});

/** A descriptor that does not hold a valid release; `field` names what is wrong. */
export class InvalidReleaseError extends Error {
  override name = 'InvalidReleaseError';
  constructor(
    public readonly field: string,
    problem: string,
  ) {
    super(`release descriptor: ${field}: ${problem}`);
  }
}

/** Reads a field by JSON pointer (RFC 6901) or dotted path. */
export function pickField(doc: unknown, field: string): unknown {
  const parts = field.startsWith('/')
    ? field.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    : field.split('.');
  let at: unknown = doc;
  for (const part of parts) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

export interface Release {
  version: string;
  tarball?: string;
}

/** Validates a URL that came from a descriptor: http(s) as allowed, bounded, nothing a shell would read. */
export function checkUrl(value: unknown, field: string, allowHttp: boolean): string {
  if (typeof value !== 'string') throw new InvalidReleaseError(field, `must be a string URL (got ${describe(value)})`);
  if (value.length > 2048) throw new InvalidReleaseError(field, 'is longer than 2048 characters');
  if (SHELL_META.test(value)) throw new InvalidReleaseError(field, 'contains characters that are not allowed in a release URL (spaces, quotes or shell syntax)');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidReleaseError(field, 'is not a URL');
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    throw new InvalidReleaseError(field, `must be an https URL${allowHttp ? ' (or http)' : ''} (got ${url.protocol.replace(':', '')})`);
  }
  return value;
}

/** Extracts and validates the release from a parsed descriptor. Throws {@link InvalidReleaseError}. */
export function readRelease(doc: unknown, source: Pick<ReleaseSource, 'versionField' | 'tarballField' | 'allowHttp'>): Release {
  const version = pickField(doc, source.versionField);
  if (typeof version !== 'string') throw new InvalidReleaseError(source.versionField, `must be a version string (got ${describe(version)})`);
  if (version.length > 80 || !VERSION_PATTERN.test(version)) {
    throw new InvalidReleaseError(source.versionField, `${JSON.stringify(version.slice(0, 80))} is not a version like 1.24.0 (digits and dots, optional -pre/+build)`);
  }
  if (!source.tarballField) return { version };
  return { version, tarball: checkUrl(pickField(doc, source.tarballField), source.tarballField, source.allowHttp) };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : typeof value;
}
