/**
 * Provider errors: one class per condition, each saying honestly whether retrying the same call may succeed.
 * The activity layer (src/activities) is the one place that turns them into Temporal failures.
 */

export abstract class ProviderError extends Error {
  /** Whether the same call may succeed if it is made again. */
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The snapshot or instance does not exist (or no longer exists). */
export class NotFoundError extends ProviderError {
  readonly retryable = false;
}

/** The object is in the wrong state for the call (for example, exec on a stopped instance). */
export class ConflictError extends ProviderError {
  readonly retryable = false;
}

/** The request was rejected as invalid. */
export class ValidationError extends ProviderError {
  readonly retryable = false;
  constructor(
    message: string,
    public readonly details: unknown = undefined,
  ) {
    super(message);
  }
}

/** The credentials were refused. */
export class AuthError extends ProviderError {
  readonly retryable = false;
}

/** Too many requests; retry after `retryAfterMs` when known. */
export class RateLimitedError extends ProviderError {
  readonly retryable = true;
  constructor(
    message: string,
    public readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The backend failed (5xx, a failed snapshot, an instance in error). */
export class ServerError extends ProviderError {
  constructor(
    message: string,
    public readonly retryable = true,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The backend could not be reached, or the connection broke. */
export class NetworkError extends ProviderError {
  readonly retryable = true;
  constructor(
    message: string,
    /** True when the request surely never reached the server (connection refused, DNS), so any call may be repeated. */
    public readonly neverSent = false,
  ) {
    super(message);
  }
}

/** The call did not finish in time. */
export class ProviderTimeoutError extends ProviderError {
  readonly retryable = true;
}

/** This machine cannot provide what the provider needs (for example overlayfs or mount namespaces). */
export class UnsupportedError extends ProviderError {
  readonly retryable = false;
}
