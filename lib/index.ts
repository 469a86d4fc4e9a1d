/**
 * eks-graceful-drain as a CDK construct library:
 *
 *   import { EksGracefulDrain } from 'eks-graceful-drain';
 *   new EksGracefulDrain(this, 'Drain', { cluster, autoScalingGroups: [nodes] });
 *
 * The Lambda code ships prebuilt in the package (dist/functions), so a synth
 * needs neither esbuild nor Docker.
 */
export { EksGracefulDrain, type EksGracefulDrainProps } from './graceful-drain';
export type { DeadlinePolicy } from '../lambda/core/drain-state';
export {
  ClusterAccess,
  KUBERNETES_FUNCTIONS,
  KUBERNETES_GROUPS,
  KUBERNETES_MANIFESTS,
  applyDeadlineDeletesPods,
  kubernetesFunctions,
  kubernetesManifests,
  type KubernetesAccessOptions,
  type KubernetesFunctionKey,
} from './cluster-access';
export { DEFAULT_RESERVED_CONCURRENCY } from './drain-functions';
export { DrainFunctions, type DrainFunctionKey } from './drain-functions';
export { DEFAULT_LIFECYCLE_HOOK_NAME, DrainLifecycleHooks } from './lifecycle-hooks';
export { DrainMonitoring, type DrainAlarms } from './drain-monitoring';
export { DrainWorkflow } from './drain-workflow';
