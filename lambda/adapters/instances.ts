/**
 * EC2 look-ups: the instance's private DNS name (the node name on EKS AMIs,
 * the first place to look for its node, verified by providerID) and whether
 * EC2 is about to interrupt it (Spot).
 */
import { DescribeInstancesCommand, DescribeSpotInstanceRequestsCommand, EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import { awsErrorName, toAdapterError } from './errors';

/** The instance's private DNS name, or undefined when EC2 no longer knows the instance or it has none. */
export async function privateDnsName(ec2: EC2Client, instanceId: string): Promise<string | undefined> {
  try {
    const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
    // A terminated instance reports an empty name.
    return instance?.PrivateDnsName || undefined;
  } catch (error) {
    if (awsErrorName(error) === 'InvalidInstanceID.NotFound') return undefined;
    throw toAdapterError(error, `DescribeInstances ${instanceId}`);
  }
}

export interface Ec2Instance {
  instanceId: string;
  /** Empty once terminated. */
  privateDnsName?: string;
  availabilityZone?: string;
  /** A Spot instance's request: where EC2 announces an interruption. */
  spotInstanceRequestId?: string;
}

/** The instance as EC2 describes it, or undefined when EC2 no longer knows it. */
export async function describeInstance(ec2: EC2Client, instanceId: string): Promise<Ec2Instance | undefined> {
  try {
    const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
    if (!instance) return undefined;
    return {
      instanceId,
      privateDnsName: instance.PrivateDnsName || undefined,
      availabilityZone: instance.Placement?.AvailabilityZone,
      spotInstanceRequestId: instance.InstanceLifecycle === 'spot' ? instance.SpotInstanceRequestId : undefined,
    };
  } catch (error) {
    if (awsErrorName(error) === 'InvalidInstanceID.NotFound') return undefined;
    throw toAdapterError(error, `DescribeInstances ${instanceId}`);
  }
}

export interface SpotRequestStatus {
  instanceId?: string;
  /** e.g. fulfilled, marked-for-termination, marked-for-stop, marked-for-hibernation. */
  code?: string;
  /** When the status last changed (ms epoch): for a marked request, the notice. */
  updateTime?: number;
}

export async function spotRequestStatus(ec2: EC2Client, requestId: string): Promise<SpotRequestStatus | undefined> {
  try {
    const { SpotInstanceRequests } = await ec2.send(new DescribeSpotInstanceRequestsCommand({ SpotInstanceRequestIds: [requestId] }));
    const request = SpotInstanceRequests?.find((r) => r.SpotInstanceRequestId === requestId);
    if (!request) return undefined;
    return {
      instanceId: request.InstanceId,
      code: request.Status?.Code,
      updateTime: request.Status?.UpdateTime ? new Date(request.Status.UpdateTime).getTime() : undefined,
    };
  } catch (error) {
    if (awsErrorName(error) === 'InvalidSpotInstanceRequestID.NotFound') return undefined;
    throw toAdapterError(error, `DescribeSpotInstanceRequests ${requestId}`);
  }
}

/** The EC2 client the handlers use (SDK defaults: region, credentials, AWS_ENDPOINT_URL_EC2). */
export function createEc2Client(config: EC2ClientConfig = {}): EC2Client {
  return new EC2Client(config);
}
