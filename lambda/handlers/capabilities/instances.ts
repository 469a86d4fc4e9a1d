/** EC2 look-ups of an instance (its private DNS name). */
import { EC2Client } from '@aws-sdk/client-ec2';
import { privateDnsName } from '../../adapters/instances';
import type { CapabilityFactory } from '../deps';

export const instanceDnsName: CapabilityFactory<'privateDnsName'> = () => {
  let ec2: EC2Client | undefined;
  return (instanceId) => privateDnsName((ec2 ??= new EC2Client({})), instanceId);
};
