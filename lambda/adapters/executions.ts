/**
 * Starts the drain workflow for a lifecycle action. The execution name is
 * derived from the action (see core/lifecycle-event), so Step Functions itself
 * rejects a second start for the same action: a duplicate event costs one
 * StartExecution call and nothing else.
 */
import { ListExecutionsCommand, SFNClient, StartExecutionCommand, StopExecutionCommand, type SFNClientConfig } from '@aws-sdk/client-sfn';
import type { DrainStartInput } from '../core/drain-state';
import { ConfigurationError, TransientError, awsErrorName, toAdapterError } from './errors';

export type StartOutcome =
  | { outcome: 'started'; executionArn: string }
  | { outcome: 'duplicate'; executionArn: string };

// Errors that mean the state machine or the request is wrong, not busy.
const MISCONFIGURED = new Set([
  'StateMachineDoesNotExist',
  'StateMachineDeleting',
  'InvalidArn',
  'InvalidName',
  'InvalidExecutionInput',
  'ValidationException',
]);

export class DrainExecutions {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(name: string, input: DrainStartInput): Promise<StartOutcome> {
    const context = `StartExecution ${name}`;
    try {
      const { executionArn } = await this.sfn.send(
        new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }),
      );
      return { outcome: 'started', executionArn: executionArn ?? this.executionArn(name) };
    } catch (error) {
      const code = awsErrorName(error);
      // The input carries the request id, so a second start with the same name is
      // always rejected (with identical input Step Functions would instead return
      // the running execution), whether the first one is still running or closed.
      if (code === 'ExecutionAlreadyExists') return { outcome: 'duplicate', executionArn: this.executionArn(name) };
      // Too many open executions in the account: some will finish.
      if (code === 'ExecutionLimitExceeded') throw new TransientError(`${context} failed: ${code}`, { cause: error });
      if (MISCONFIGURED.has(code)) throw new ConfigurationError(`${context} failed: ${code}`, { cause: error });
      throw toAdapterError(error, context);
    }
  }

  /** Names and ARNs of the running executions whose name starts with `prefix` (every page). */
  async running(prefix: string): Promise<Array<{ name: string; executionArn: string }>> {
    const found: Array<{ name: string; executionArn: string }> = [];
    let nextToken: string | undefined;
    do {
      let page;
      try {
        page = await this.sfn.send(new ListExecutionsCommand({ stateMachineArn: this.stateMachineArn, statusFilter: 'RUNNING', maxResults: 1000, nextToken }));
      } catch (error) {
        throw toAdapterError(error, 'ListExecutions');
      }
      for (const e of page.executions ?? []) {
        if (e.name?.startsWith(prefix) && e.executionArn) found.push({ name: e.name, executionArn: e.executionArn });
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return found;
  }

  /** Stops a running execution; one that already stopped is fine. */
  async stop(executionArn: string, cause: string): Promise<void> {
    try {
      await this.sfn.send(new StopExecutionCommand({ executionArn, error: 'SupersededBySpotDrain', cause }));
    } catch (error) {
      if (awsErrorName(error) === 'ExecutionDoesNotExist') return;
      throw toAdapterError(error, `StopExecution ${executionArn}`);
    }
  }

  /** arn:…:stateMachine:<machine> → arn:…:execution:<machine>:<name>; the error does not carry it. */
  private executionArn(name: string): string {
    return `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  }
}

/** The Step Functions client the handlers use (SDK defaults: region, credentials, AWS_ENDPOINT_URL_SFN). */
export function createSfnClient(config: SFNClientConfig = {}): SFNClient {
  return new SFNClient(config);
}
