/** EC2 look-ups of an instance (its private DNS name). */
import { createEc2Client, privateDnsName } from '../../adapters/instances';
import type { CapabilityFactory } from '../deps';

export const instanceDnsName: CapabilityFactory<'privateDnsName'> = () => {
  let ec2: ReturnType<typeof createEc2Client> | undefined;
  return (instanceId) => privateDnsName((ec2 ??= createEc2Client()), instanceId);
};
