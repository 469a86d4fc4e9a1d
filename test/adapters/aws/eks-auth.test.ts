import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { DescribeClusterCommand, EKSClient, EKSServiceException } from '@aws-sdk/client-eks';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { Clock } from '../../../lambda/core/clock';
import { createClusterInfoProvider, createEksTokenProvider } from '../../../lambda/adapters/eks-auth';
import { ConfigurationError, TransientError } from '../../../lambda/adapters/errors';

const START = Date.UTC(2026, 0, 1, 0, 0, 0);
const MINUTE = 60_000;

function steppedClock(start = START) {
  let now = start;
  const clock: Clock = { now: () => now, sleep: async () => undefined };
  return { clock, advance: (ms: number) => (now += ms) };
}

function staticCredentials(extra: Partial<AwsCredentialIdentity> = {}) {
  return jest.fn(async (): Promise<AwsCredentialIdentity> => ({
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'x',
    sessionToken: 'a+b/c=',
    ...extra,
  }));
}

function decode(token: string): URL {
  return new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8'));
}

describe('createEksTokenProvider', () => {
  it('builds a k8s-aws-v1 token from a presigned STS GetCallerIdentity URL', async () => {
    // Arrange
    const { clock } = steppedClock();
    const provider = createEksTokenProvider({ clusterName: 'demo', region: 'us-east-1', credentials: staticCredentials(), clock });

    // Act
    const token = await provider.token();

    // Assert
    expect(token.startsWith('k8s-aws-v1.')).toBe(true);
    expect(token).not.toMatch(/[=+/]/);
    const url = decode(token);
    expect(url.origin).toBe('https://sts.us-east-1.amazonaws.com');
    expect(url.pathname).toBe('/');
    expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
    expect(url.searchParams.get('Version')).toBe('2011-06-15');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('60');
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(expect.arrayContaining(['host', 'x-k8s-aws-id']));
    expect(url.searchParams.get('X-Amz-Date')).toBe('20260101T000000Z');
    expect(url.searchParams.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20260101/us-east-1/sts/aws4_request');
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('a+b/c=');
  });

  it('produces the signature botocore computes for the same request', async () => {
    // Arrange: expected value from botocore's SigV4QueryAuth (expires=60) for the same
    // credentials, date, URL and x-k8s-aws-id header: an independent implementation.
    const { clock } = steppedClock();
    const provider = createEksTokenProvider({ clusterName: 'demo', region: 'us-east-1', credentials: staticCredentials(), clock });

    // Act
    const url = decode(await provider.token());

    // Assert
    expect(url.searchParams.get('X-Amz-Signature')).toBe('197df72372c6cb8c916e50983e60a7a6ea0287c981d6ceb494238f8245af3221');
  });

  it('sends only the query parameters the EKS authenticator accepts', async () => {
    // Arrange: aws-iam-authenticator rejects a token whose URL carries any other parameter.
    const allowed = ['Action', 'Version', 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-Security-Token', 'X-Amz-Signature', 'X-Amz-SignedHeaders'];
    const { clock } = steppedClock();
    const provider = createEksTokenProvider({ clusterName: 'demo', region: 'eu-west-1', credentials: staticCredentials(), clock });

    // Act
    const url = decode(await provider.token());

    // Assert
    expect(allowed).toEqual(expect.arrayContaining([...url.searchParams.keys()]));
  });

  it('uses the China partition host in cn- regions', async () => {
    // Arrange
    const { clock } = steppedClock();
    const provider = createEksTokenProvider({ clusterName: 'demo', region: 'cn-north-1', credentials: staticCredentials(), clock });

    // Act
    const url = decode(await provider.token());

    // Assert
    expect(url.host).toBe('sts.cn-north-1.amazonaws.com.cn');
  });

  it('reuses the token for 10 minutes, then signs a new one', async () => {
    // Arrange
    const { clock, advance } = steppedClock();
    const credentials = staticCredentials();
    const provider = createEksTokenProvider({ clusterName: 'demo', region: 'us-east-1', credentials, clock });
    const first = await provider.token();

    // Act
    advance(9 * MINUTE);
    const atNine = await provider.token();
    advance(2 * MINUTE);
    const atEleven = await provider.token();

    // Assert
    expect(atNine).toBe(first);
    expect(atEleven).not.toBe(first);
    expect(decode(atEleven).searchParams.get('X-Amz-Date')).toBe('20260101T001100Z');
    expect(credentials).toHaveBeenCalledTimes(2);
  });

  it('signs again when the credentials would expire before the token is due for renewal', async () => {
    // Arrange: credentials expire at +7 min; a token must not outlive them by the time it is used.
    const { clock, advance } = steppedClock();
    const credentials = staticCredentials({ expiration: new Date(START + 7 * MINUTE) });
    const provider = createEksTokenProvider({ clusterName: 'demo', region: 'us-east-1', credentials, clock });
    const first = await provider.token();

    // Act
    advance(1 * MINUTE);
    const atOne = await provider.token();
    advance(2 * MINUTE);
    const atThree = await provider.token();

    // Assert
    expect(atOne).toBe(first);
    expect(atThree).not.toBe(first);
  });
});

describe('createClusterInfoProvider', () => {
  const eks = mockClient(EKSClient);
  beforeEach(() => eks.reset());

  it('asks EKS once and caches endpoint and CA', async () => {
    // Arrange
    eks.on(DescribeClusterCommand).resolves({
      cluster: { name: 'demo', endpoint: 'https://ABC.gr7.us-east-1.eks.amazonaws.com', certificateAuthority: { data: 'LS0tLS1CRUdJTg==' } },
    });
    const provider = createClusterInfoProvider(new EKSClient({}), 'demo');

    // Act
    const first = await provider.get();
    const second = await provider.get();

    // Assert
    expect(first).toEqual({ endpoint: 'https://ABC.gr7.us-east-1.eks.amazonaws.com', caData: 'LS0tLS1CRUdJTg==' });
    expect(second).toEqual(first);
    expect(eks).toHaveReceivedCommandTimes(DescribeClusterCommand, 1);
    expect(eks).toHaveReceivedCommandWith(DescribeClusterCommand, { name: 'demo' });
  });

  it('maps a missing cluster to ConfigurationError', async () => {
    // Arrange
    eks.on(DescribeClusterCommand).rejects(serviceError('ResourceNotFoundException', 'client', 404));
    const provider = createClusterInfoProvider(new EKSClient({}), 'gone');

    // Act
    const result = provider.get();

    // Assert
    await expect(result).rejects.toBeInstanceOf(ConfigurationError);
    await expect(result).rejects.toHaveProperty('name', 'ConfigurationError');
  });

  it('maps access denied to ConfigurationError', async () => {
    // Arrange
    eks.on(DescribeClusterCommand).rejects(serviceError('AccessDeniedException', 'client', 403));
    const provider = createClusterInfoProvider(new EKSClient({}), 'demo');

    // Act / Assert
    await expect(provider.get()).rejects.toBeInstanceOf(ConfigurationError);
  });

  it.each([
    ['ThrottlingException', 'client', 429],
    ['ServiceUnavailableException', 'server', 503],
  ] as const)('maps %s to TransientError and does not cache the failure', async (name, fault, status) => {
    // Arrange
    eks
      .on(DescribeClusterCommand)
      .rejectsOnce(serviceError(name, fault, status))
      .resolves({ cluster: { endpoint: 'https://x', certificateAuthority: { data: 'Y2E=' } } });
    const provider = createClusterInfoProvider(new EKSClient({}), 'demo');

    // Act
    const failed = provider.get();
    await expect(failed).rejects.toBeInstanceOf(TransientError);
    const retried = await provider.get();

    // Assert
    expect(retried).toEqual({ endpoint: 'https://x', caData: 'Y2E=' });
    expect(eks).toHaveReceivedCommandTimes(DescribeClusterCommand, 2);
  });

  it('refuses a cluster without endpoint yet', async () => {
    // Arrange
    eks.on(DescribeClusterCommand).resolves({ cluster: { name: 'demo', status: 'CREATING' } });
    const provider = createClusterInfoProvider(new EKSClient({}), 'demo');

    // Act / Assert
    await expect(provider.get()).rejects.toThrow(/CREATING/);
  });
});

function serviceError(name: string, fault: 'client' | 'server', httpStatusCode: number) {
  return new EKSServiceException({ name, $fault: fault, $metadata: { httpStatusCode }, message: `${name} happened` });
}
