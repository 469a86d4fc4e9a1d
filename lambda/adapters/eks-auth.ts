/**
 * How a Lambda authenticates to the EKS API server: the cluster's endpoint and
 * CA from DescribeCluster, and a bearer token that is a presigned STS
 * GetCallerIdentity URL (the scheme of aws-iam-authenticator and `aws eks get-token`).
 *
 * Never log the token, the presigned URL or the credentials, and never put them
 * in an error message: the token lets anyone act as this Lambda's role in the
 * cluster for 15 minutes.
 */
import { DescribeClusterCommand, EKSClient, type EKSClientConfig } from '@aws-sdk/client-eks';
import { Sha256 } from '@aws-crypto/sha256-js';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { Clock } from '../core/clock';
import { ConfigurationError, awsErrorName, toAdapterError } from './errors';

/** Reuse a token for 10 minutes: the API server accepts it for 15 after X-Amz-Date, so a caller holding it still has 5 to spare. */
export const TOKEN_REUSE_MS = 10 * 60_000;
/**
 * Re-sign once the credentials have less than this left: the SDK's credential chain
 * treats credentials with under 5 minutes left as expired and fetches new ones,
 * so re-signing then picks up fresh credentials.
 */
const CREDENTIALS_MARGIN_MS = 5 * 60_000;

export interface EksTokenProviderOptions {
  clusterName: string;
  region: string;
  /** @default the SDK's default Node.js credential chain (the Lambda role) */
  credentials?: AwsCredentialIdentityProvider;
  clock: Clock;
}

export interface EksTokenProvider {
  /** A bearer token for the cluster's API server, valid for at least 5 more minutes. */
  token(): Promise<string>;
}

export function createEksTokenProvider(options: EksTokenProviderOptions): EksTokenProvider {
  const { clusterName, region, clock } = options;
  const credentials = options.credentials ?? defaultProvider();
  let cached: { token: string; reuseUntil: number } | undefined;

  return {
    async token() {
      const now = clock.now();
      if (cached && now < cached.reuseUntil) return cached.token;
      const identity = await credentials();
      const token = await presignToken(clusterName, region, identity, new Date(now));
      const credentialsUsableUntil = identity.expiration
        ? identity.expiration.getTime() - CREDENTIALS_MARGIN_MS
        : Infinity;
      cached = { token, reuseUntil: Math.min(now + TOKEN_REUSE_MS, credentialsUsableUntil) };
      return token;
    },
  };
}

async function presignToken(
  clusterName: string,
  region: string,
  credentials: AwsCredentialIdentity,
  signingDate: Date,
): Promise<string> {
  // AWS_ENDPOINT_URL_STS is deliberately ignored: the API server forwards the URL
  // to STS only if its host is the real regional STS endpoint, so a token for a
  // local or VPC endpoint name would be rejected.
  const hostname = `sts.${region}.${dnsSuffix(region)}`;
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    // Both are signed: host by SigV4's rules, x-k8s-aws-id so that the token is
    // only good for this cluster.
    headers: { host: hostname, 'x-k8s-aws-id': clusterName },
  });
  const signer = new SignatureV4({ service: 'sts', region, credentials, sha256: Sha256 });
  const signed = await signer.presign(request, { expiresIn: 60, signingDate });
  const query = Object.entries(signed.query ?? {})
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
    .join('&');
  const url = `https://${hostname}/?${query}`;
  return `k8s-aws-v1.${Buffer.from(url).toString('base64url')}`;
}

// The API server accepts the STS hosts of its own partition; China's end in .com.cn.
function dnsSuffix(region: string): string {
  return region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
}

export interface ClusterInfo {
  endpoint: string;
  /** The cluster CA, base64-encoded PEM, as EKS returns it. */
  caData: string;
}

export interface ClusterInfoProvider {
  get(): Promise<ClusterInfo>;
}

/**
 * Endpoint and CA never change for a cluster's lifetime, so the provider asks
 * EKS once; create it at module level to keep it for the container's lifetime.
 * A failure is not cached: the next call asks again.
 */
export function createClusterInfoProvider(eks: EKSClient, clusterName: string): ClusterInfoProvider {
  let cached: Promise<ClusterInfo> | undefined;
  return {
    get() {
      cached ??= describeCluster(eks, clusterName).catch((error: unknown) => {
        cached = undefined;
        throw error;
      });
      return cached;
    },
  };
}

async function describeCluster(eks: EKSClient, clusterName: string): Promise<ClusterInfo> {
  const context = `DescribeCluster ${clusterName}`;
  let cluster;
  try {
    ({ cluster } = await eks.send(new DescribeClusterCommand({ name: clusterName })));
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') {
      throw new ConfigurationError(`${context}: no such cluster`, { cause: error });
    }
    throw toAdapterError(error, context);
  }
  const endpoint = cluster?.endpoint;
  const caData = cluster?.certificateAuthority?.data;
  if (!endpoint || !caData) {
    // A cluster still being created has neither yet; a drain cannot run against it.
    throw new ConfigurationError(`${context}: cluster has no endpoint or CA (status ${cluster?.status ?? 'unknown'})`);
  }
  return { endpoint, caData };
}

/** The EKS client the handlers use (SDK defaults: region, credentials, AWS_ENDPOINT_URL_EKS). */
export function createEksClient(config: EKSClientConfig = {}): EKSClient {
  return new EKSClient(config);
}
