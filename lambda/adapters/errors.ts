/**
 * The error classes the state machine's Retry and Catch match on. Their `name`
 * is the contract (the Lambda runtime reports `error.name` as the error type),
 * so keep them few and never rename them.
 */

/** Worth retrying: throttling, contention, 5xx, network trouble that outlived the SDK's own retries. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Retrying cannot help: a missing hook or cluster, denied access, a request AWS rejects as invalid. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A Kubernetes API error, after retries, with what it means for the drain. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    message: string,
    readonly status: number | undefined,
    /** Throttling, 5xx or a broken connection: asking again later may work. */
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The fields of an AWS SDK v3 error (a smithy ServiceException or a network error) this module reads. */
interface AwsErrorLike {
  name?: string;
  code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

// Error codes AWS services use for throttling (the SDK's own list, less the quota
// errors such as LimitExceededException that no amount of waiting fixes).
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'EC2ThrottledException',
  'PriorRequestNotComplete',
  'SlowDown',
  'BandwidthLimitExceeded',
  'ProvisionedThroughputExceededException',
  'KmsThrottlingException',
]);

// Socket and timeout errors the SDK raises when no HTTP response arrived.
const NETWORK = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
]);

/** The AWS error code (`name`), or '' when `error` is not an error object. */
export function awsErrorName(error: unknown): string {
  return typeof error === 'object' && error !== null ? String((error as AwsErrorLike).name ?? '') : '';
}

/**
 * Maps an AWS SDK error to TransientError or ConfigurationError when the class is
 * clear from the error itself; returns anything else unchanged, so an unexpected
 * error reaches the state machine's catch-all with its own name.
 * `context` says what failed ("DescribeCluster demo"); it becomes the message prefix.
 */
export function toAdapterError(error: unknown, context: string): Error {
  if (!(error instanceof Error)) return new Error(`${context} failed: ${String(error)}`);
  const e = error as AwsErrorLike;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const message = `${context} failed: ${name}: ${e.message ?? ''}`;
  if (
    THROTTLING.has(name) ||
    e.$retryable?.throttling ||
    status === 429 ||
    name === 'ResourceContentionFault' ||
    e.$fault === 'server' ||
    (status !== undefined && status >= 500) ||
    NETWORK.has(name) ||
    (e.code !== undefined && NETWORK.has(e.code))
  ) {
    return new TransientError(message, { cause: error });
  }
  if (ACCESS_DENIED.has(name) || status === 403) return new ConfigurationError(message, { cause: error });
  return error;
}
