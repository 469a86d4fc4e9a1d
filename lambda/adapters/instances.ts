/**
 * EC2 look-ups. The node of an instance is found by its providerID; the
 * private DNS name (the node name on EKS-optimised AMIs) is only a fallback.
 */
import { DescribeInstancesCommand, EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2';
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

/** The EC2 client the handlers use (SDK defaults: region, credentials, AWS_ENDPOINT_URL_EC2). */
export function createEc2Client(config: EC2ClientConfig = {}): EC2Client {
  return new EC2Client(config);
}
