/**
 * Fault injection for the Morph emulator: latency, injected 5xx and 429 replies, lost responses and slow
 * commands, all drawn from a seeded PRNG so that a seed always gives the same sequence of faults for the same
 * sequence of requests.
 */
import { z } from 'zod';

/** What the emulator injects. Rates are fractions of requests in [0, 1]. */
export interface FaultConfig {
  /** Added before every response is sent (faulted ones included). */
  latencyMs: number;
  /** Fraction of requests answered 500 or 503 before they are processed. */
  errorRate: number;
  /** Fraction of requests answered 429 (`Retry-After: 1`) before they are processed. */
  rateLimitRate: number;
  /** Fraction of non-GET requests that are processed and then lose their response (the connection is destroyed). */
  dropRate: number;
  /** Extra delay before every exec command starts. */
  slowExecMs: number;
  /** Seed of the PRNG that decides which requests are faulted. */
  seed: number;
}

/** How many faults were injected since the emulator started. */
export interface FaultStats {
  /** Requests seen (every request draws from the PRNG, faulted or not). */
  requests: number;
  /** Requests answered 500 or 503 without being processed. */
  errors: number;
  /** Requests answered 429 without being processed. */
  rateLimited: number;
  /** Requests processed whose response was then lost. */
  dropped: number;
  /** Exec calls delayed by `slowExecMs`. */
  slowedExecs: number;
}

/** The fate of one request, decided when it arrives. */
export interface FaultDecision {
  /** Answer with this status at once, without processing the request. */
  reject?: 500 | 503 | 429;
  /** Process the request, then destroy the connection instead of answering. */
  drop: boolean;
}

/** A fault setting is invalid; the message names the setting (flag or environment variable). */
export class FaultConfigError extends Error {
  override name = 'FaultConfigError';
}

export const DEFAULT_FAULTS: Readonly<FaultConfig> = { latencyMs: 0, errorRate: 0, rateLimitRate: 0, dropRate: 0, slowExecMs: 0, seed: 1 };

/** The environment variable of each setting. */
export const FAULT_ENV: Readonly<Record<keyof FaultConfig, string>> = {
  latencyMs: 'MORPH_EMULATOR_LATENCY_MS',
  errorRate: 'MORPH_EMULATOR_ERROR_RATE',
  rateLimitRate: 'MORPH_EMULATOR_RATE_LIMIT_RATE',
  dropRate: 'MORPH_EMULATOR_DROP_RATE',
  slowExecMs: 'MORPH_EMULATOR_SLOW_EXEC_MS',
  seed: 'MORPH_EMULATOR_SEED',
};

const milliseconds = { schema: z.number().int().min(0).max(3_600_000), expects: 'a whole number of milliseconds between 0 and 3600000' };
const rate = { schema: z.number().min(0).max(1), expects: 'a number between 0 and 1' };
const seed = { schema: z.number().int().min(0).max(0xffffffff), expects: 'a whole number between 0 and 4294967295' };

const SETTINGS: Readonly<Record<keyof FaultConfig, { schema: z.ZodNumber; expects: string }>> = {
  latencyMs: milliseconds,
  errorRate: rate,
  rateLimitRate: rate,
  dropRate: rate,
  slowExecMs: milliseconds,
  seed,
};

const FAULT_KEYS = Object.keys(SETTINGS) as (keyof FaultConfig)[];

/**
 * Parses settings given as text (flags, environment). Empty or missing values are left out. Throws
 * FaultConfigError naming the setting, as `nameOf` names it, for an invalid value.
 */
export function parseFaultSettings(
  raw: Partial<Record<keyof FaultConfig, string | undefined>>,
  nameOf: (key: keyof FaultConfig) => string,
): Partial<FaultConfig> {
  const parsed: Partial<FaultConfig> = {};
  for (const key of FAULT_KEYS) {
    const text = raw[key]?.trim();
    if (!text) continue;
    const result = SETTINGS[key].schema.safeParse(Number(text));
    if (!result.success) throw new FaultConfigError(`${nameOf(key)}: must be ${SETTINGS[key].expects} (got ${JSON.stringify(raw[key])})`);
    parsed[key] = result.data;
  }
  return parsed;
}

/** The fault settings in the MORPH_EMULATOR_* environment variables. */
export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<FaultConfig> {
  const raw = Object.fromEntries(FAULT_KEYS.map((key) => [key, env[FAULT_ENV[key]]]));
  return parseFaultSettings(raw, (key) => FAULT_ENV[key]);
}

/** Fills in defaults and validates a complete configuration. Throws FaultConfigError naming the bad field. */
export function resolveFaults(partial: Partial<FaultConfig> = {}): FaultConfig {
  const config = { ...DEFAULT_FAULTS, ...withoutUndefined(partial) };
  for (const key of FAULT_KEYS) {
    if (!SETTINGS[key].schema.safeParse(config[key]).success) {
      throw new FaultConfigError(`${key}: must be ${SETTINGS[key].expects} (got ${JSON.stringify(config[key])})`);
    }
  }
  if (config.errorRate + config.rateLimitRate > 1) {
    throw new FaultConfigError(`the error rate and the rate-limit rate add up to more than 1 (${config.errorRate} + ${config.rateLimitRate})`);
  }
  return config;
}

/** mulberry32: a tiny, fast, seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Decides the fate of each request. Every request draws exactly three numbers whatever the configuration,
 * so the faults a seed produces depend only on the order in which requests arrive.
 */
export class FaultInjector {
  private current: FaultConfig;
  private random: () => number;
  private readonly counters: FaultStats = { requests: 0, errors: 0, rateLimited: 0, dropped: 0, slowedExecs: 0 };

  constructor(initial: Partial<FaultConfig> = {}) {
    this.current = resolveFaults(initial);
    this.random = mulberry32(this.current.seed);
  }

  get config(): Readonly<FaultConfig> {
    return this.current;
  }

  /** Changes some settings. Giving a seed restarts the PRNG from it; counters are kept. */
  update(patch: Partial<FaultConfig>): void {
    this.current = resolveFaults({ ...this.current, ...withoutUndefined(patch) });
    if (patch.seed !== undefined) this.random = mulberry32(this.current.seed);
  }

  /** Called once per request, as it arrives. GET requests are never dropped: losing a read's answer proves nothing. */
  decide(method: string): FaultDecision {
    this.counters.requests++;
    const [pick, kind, drop] = [this.random(), this.random(), this.random()];
    const { errorRate, rateLimitRate, dropRate } = this.current;
    if (pick < errorRate) {
      this.counters.errors++;
      return { reject: kind < 0.5 ? 500 : 503, drop: false };
    }
    if (pick < errorRate + rateLimitRate) {
      this.counters.rateLimited++;
      return { reject: 429, drop: false };
    }
    if (method !== 'GET' && drop < dropRate) {
      this.counters.dropped++;
      return { drop: true };
    }
    return { drop: false };
  }

  /** The extra delay for an exec about to start (counted when non-zero). */
  execDelayMs(): number {
    if (this.current.slowExecMs > 0) this.counters.slowedExecs++;
    return this.current.slowExecMs;
  }

  stats(): FaultStats {
    return { ...this.counters };
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Waits `ms`; rejects with the abort reason if `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
