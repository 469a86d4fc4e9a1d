import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { DescribeInstancesCommand, EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';
import { TransientError } from '../../../lambda/adapters/errors';
import { privateDnsName } from '../../../lambda/adapters/instances';

const ec2 = mockClient(EC2Client);
const client = new EC2Client({});
beforeEach(() => ec2.reset());

function ec2Error(name: string, httpStatusCode = 400) {
  return new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode }, message: name });
}

it('returns the private DNS name of the instance', async () => {
  // Arrange
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [{ Instances: [{ InstanceId: 'i-0123456789abcdef0', PrivateDnsName: 'ip-10-0-1-23.ec2.internal' }] }],
  });

  // Act
  const name = await privateDnsName(client, 'i-0123456789abcdef0');

  // Assert
  expect(name).toBe('ip-10-0-1-23.ec2.internal');
  expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: ['i-0123456789abcdef0'] });
});

it('returns undefined for an instance EC2 no longer knows', async () => {
  // Arrange
  ec2.on(DescribeInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));

  // Act / Assert
  await expect(privateDnsName(client, 'i-0123456789abcdef0')).resolves.toBeUndefined();
});

it('returns undefined for a terminated instance, whose name is empty', async () => {
  // Arrange
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-0123456789abcdef0', PrivateDnsName: '' }] }] });

  // Act / Assert
  await expect(privateDnsName(client, 'i-0123456789abcdef0')).resolves.toBeUndefined();
});

it('maps RequestLimitExceeded to TransientError', async () => {
  // Arrange
  ec2.on(DescribeInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 503));

  // Act / Assert
  await expect(privateDnsName(client, 'i-0123456789abcdef0')).rejects.toBeInstanceOf(TransientError);
});
