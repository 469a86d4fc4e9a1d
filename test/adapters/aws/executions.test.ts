import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { ExecutionAlreadyExists, SFNClient, SFNServiceException, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { DrainStartInput } from '../../../lambda/core/drain-state';
import { ConfigurationError, TransientError } from '../../../lambda/adapters/errors';
import { DrainExecutions } from '../../../lambda/adapters/executions';

const MACHINE = 'arn:aws:states:us-east-1:111122223333:stateMachine:graceful-drain';
const NAME = 'i-0123456789abcdef0-0011223344556677';

const input: DrainStartInput = {
  instanceId: 'i-0123456789abcdef0',
  executionBase: NAME,
  trigger: 'event',
  tokenHash: '0011223344556677',
  requestId: 'req-1',
};

const sfn = mockClient(SFNClient);
const executions = new DrainExecutions(new SFNClient({}), MACHINE);
beforeEach(() => sfn.reset());

function sfnError(name: string, fault: 'client' | 'server', httpStatusCode: number) {
  return new SFNServiceException({ name, $fault: fault, $metadata: { httpStatusCode }, message: name });
}

it('starts an execution named after the action with the JSON input', async () => {
  // Arrange
  const arn = `arn:aws:states:us-east-1:111122223333:execution:graceful-drain:${NAME}`;
  sfn.on(StartExecutionCommand).resolves({ executionArn: arn, startDate: new Date() });

  // Act
  const result = await executions.start(NAME, input);

  // Assert
  expect(result).toEqual({ outcome: 'started', executionArn: arn });
  expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
    stateMachineArn: MACHINE,
    name: NAME,
    input: JSON.stringify(input),
  });
});

it('reports ExecutionAlreadyExists as a duplicate, with the existing execution ARN', async () => {
  // Arrange
  sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ $metadata: { httpStatusCode: 400 }, message: 'Execution Already Exists' }));

  // Act
  const result = await executions.start(NAME, input);

  // Assert
  expect(result).toEqual({
    outcome: 'duplicate',
    executionArn: `arn:aws:states:us-east-1:111122223333:execution:graceful-drain:${NAME}`,
  });
});

it.each([
  ['ThrottlingException', 'client', 400],
  ['ExecutionLimitExceeded', 'client', 400],
  ['InternalServerError', 'server', 500],
] as const)('maps %s to TransientError', async (name, fault, status) => {
  // Arrange
  sfn.on(StartExecutionCommand).rejects(sfnError(name, fault, status));

  // Act / Assert
  await expect(executions.start(NAME, input)).rejects.toBeInstanceOf(TransientError);
});

it.each(['StateMachineDoesNotExist', 'AccessDeniedException', 'InvalidName'])('maps %s to ConfigurationError', async (name) => {
  // Arrange
  sfn.on(StartExecutionCommand).rejects(sfnError(name, 'client', 400));

  // Act / Assert
  await expect(executions.start(NAME, input)).rejects.toBeInstanceOf(ConfigurationError);
});
