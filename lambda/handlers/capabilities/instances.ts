/** EC2 look-ups of an instance: its private DNS name and Spot request, and that request's status. */
import { createEc2Client, describeInstance, spotRequestStatus } from '../../adapters/instances';
import type { CapabilityFactory } from '../deps';

export const ec2Instances: CapabilityFactory<'ec2'> = () => {
  let ec2: ReturnType<typeof createEc2Client> | undefined;
  return {
    describeInstance: (instanceId) => describeInstance((ec2 ??= createEc2Client()), instanceId),
    spotRequestStatus: (requestId) => spotRequestStatus((ec2 ??= createEc2Client()), requestId),
  };
};
