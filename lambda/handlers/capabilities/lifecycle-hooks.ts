/** The Auto Scaling lifecycle hook calls (describe, heartbeat, complete). */
import { LifecycleHooks, createAutoScalingClient } from '../../adapters/lifecycle';
import type { CapabilityFactory } from '../deps';

export const lifecycleHooks: CapabilityFactory<'hooks'> = () => new LifecycleHooks(createAutoScalingClient());
