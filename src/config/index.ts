/**
 * snapbuild's own settings, read once from the environment and validated with zod. Temporal connection
 * settings are not here: they come from @temporalio/envconfig (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, profiles).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';

const envSchema = z.object({
  SNAPBUILD_PROVIDER: z.enum(['local', 'morph']).default('local'),
  SNAPBUILD_HOME: z.string().min(1).optional(),
  SNAPBUILD_LOCAL_STORE: z.string().min(1).optional(),
  SNAPBUILD_LOCAL_IMAGE_SIZE: z.string().regex(/^\d+[KMGT]?$/, 'must be a size like 64G').default('64G'),
  SNAPBUILD_TASK_QUEUE: z.string().min(1).default('snapbuild'),
  SNAPBUILD_TEMPORAL_CLI: z.string().min(1).optional(),
  SNAPBUILD_CACHE_DIR: z.string().min(1).optional(),
  MORPH_BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, like https://cloud.morph.so/api' }).optional(),
  MORPH_API_KEY: z.string().optional(),
  XDG_DATA_HOME: z.string().optional(),
  XDG_CACHE_HOME: z.string().optional(),
});

export interface Config {
  provider: 'local' | 'morph';
  /** Per-user data: the local store and the embedded Temporal server's database. */
  homeDir: string;
  localStoreDir: string;
  localImageSize: string;
  taskQueue: string;
  /** An explicit Temporal CLI binary for the embedded dev server. */
  temporalCli?: string;
  /** Where a Temporal CLI built by `go install` is kept between runs. */
  cacheDir: string;
  morph: {
    baseUrl: string;
    /** Secret: read here, handed to the HTTP client, never logged, never put into a workflow input. */
    apiKey?: string;
  };
}

/** A setting in the environment is invalid. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${issue.path.join('.')}: ${issue.message}`);
  }
  const e = parsed.data;
  const homeDir = path.resolve(e.SNAPBUILD_HOME ?? path.join(e.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'snapbuild'));
  return {
    provider: e.SNAPBUILD_PROVIDER,
    homeDir,
    localStoreDir: path.resolve(e.SNAPBUILD_LOCAL_STORE ?? path.join(homeDir, 'local')),
    localImageSize: e.SNAPBUILD_LOCAL_IMAGE_SIZE,
    taskQueue: e.SNAPBUILD_TASK_QUEUE,
    temporalCli: e.SNAPBUILD_TEMPORAL_CLI,
    cacheDir: path.resolve(e.SNAPBUILD_CACHE_DIR ?? path.join(e.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'snapbuild')),
    morph: { baseUrl: e.MORPH_BASE_URL ?? 'https://cloud.morph.so/api', apiKey: e.MORPH_API_KEY || undefined },
  };
}
