/** Starting drain executions of the state machine the construct names in STATE_MACHINE_ARN. */
import { ConfigurationError } from '../../adapters/errors';
import { DrainExecutions, createSfnClient } from '../../adapters/executions';
import type { CapabilityFactory } from '../deps';

export const drainExecutions: CapabilityFactory<'executions'> = ({ config }) => {
  if (!config.stateMachineArn) throw new ConfigurationError('STATE_MACHINE_ARN is not set');
  return new DrainExecutions(createSfnClient(), config.stateMachineArn);
};
