/**
 * node-marks: the small Kubernetes-facing function for what happens to a
 * node outside a drain.
 * - A launch action of our launch hook (warm pools): an instance back from
 *   the warm pool (Origin WarmPool) gets the cordon, taint and label its
 *   drain added lifted, so its node takes pods again; then (and for any other
 *   launch) the launch action is completed with CONTINUE.
 * - An EC2 rebalance recommendation (opt-in): the Spot node is cordoned, so
 *   nothing new lands on a node EC2 may soon interrupt.
 * As everywhere, the event only names an instance: its group and state are
 * read from Auto Scaling, its node found by providerID.
 */
import type { Context } from 'aws-lambda';
import { INSTANCE_ID, LAUNCH_WAIT_STATES } from '../core/claims';
import { parseDrainEvent } from '../core/lifecycle-event';
import { cordonNode, uncordonNode } from '../adapters/kube-nodes';
import { lifecycleHooks } from './capabilities/lifecycle-hooks';
import { ec2Instances } from './capabilities/instances';
import { kubeApi } from './capabilities/kube';
import { timeLeft, withRealDeps, type DepsWith } from './deps';
import { ASG_DIMENSION, Metric, count, countRefused } from './observability';
import { nodeOf } from './target-node';

export type NodeMarksResult =
  | { outcome: 'uncordoned' | 'not-ours' | 'node-gone' | 'no-node'; completed: 'completed' | 'not-active' }
  | { outcome: 'completed'; completed: 'completed' | 'not-active' }
  | { outcome: 'cordoned' | 'already-cordoned'; node: string }
  | { outcome: 'ignored' | 'refused'; reason: string };

export const makeNodeMarks =
  (deps: DepsWith<'hooks' | 'ec2' | 'kube'>) =>
  async (event: unknown, context?: Context): Promise<NodeMarksResult> => {
    const { logger, metrics, config } = deps;
    logger.resetKeys();
    metrics.clearDimensions();
    logger.appendKeys({ step: 'NodeMarks' });
    const refuse = (reason: string): NodeMarksResult => {
      countRefused(metrics);
      logger.error(`event refused: ${reason}`);
      return { outcome: 'refused', reason };
    };
    try {
      const envelope = (typeof event === 'object' && event !== null ? event : {}) as { account?: unknown; region?: unknown };
      if (config.accountId && envelope.account !== config.accountId) return refuse('the event comes from another account');
      if (config.region && envelope.region !== config.region) return refuse('the event comes from another region');
      const parsed = parseDrainEvent(event);
      if (parsed.kind !== 'launch' && parsed.kind !== 'rebalance') return { outcome: 'ignored', reason: parsed.kind };
      const instanceId = parsed.instanceId;
      if (!INSTANCE_ID.test(instanceId)) return refuse('not an instance id');
      logger.appendKeys({ instanceId });
      const asg = await deps.hooks.describeInstance(instanceId);
      if (!asg || !config.autoScalingGroupNames.includes(asg.autoScalingGroupName)) return refuse(`${instanceId} is not in a configured group`);
      metrics.addDimension(ASG_DIMENSION, asg.autoScalingGroupName);
      const ec2 = await deps.ec2.describeInstance(instanceId);
      const kube = () => deps.kube(timeLeft(context));

      if (parsed.kind === 'rebalance') {
        if (!ec2?.spotInstanceRequestId) return refuse(`${instanceId} is not a Spot instance`);
        const node = await nodeOf(deps, { instanceId, ec2 }, timeLeft(context), { list: true });
        if (!node) return { outcome: 'ignored', reason: 'no node for this instance' };
        const outcome = await cordonNode(kube(), node.name, 'rebalance-recommendation');
        if (outcome === 'cordoned') count(metrics, Metric.RebalanceCordons);
        logger.info(`rebalance recommendation: ${outcome}`);
        return outcome === 'node-gone' ? { outcome: 'ignored', reason: 'node gone' } : { outcome, node: node.name };
      }

      if (!config.launchHookName) return refuse('no launch hook is configured');
      if (parsed.lifecycleHookName !== config.launchHookName) return refuse('the event names another lifecycle hook');
      if (!LAUNCH_WAIT_STATES.has(asg.lifecycleState)) return refuse(`${instanceId} is ${asg.lifecycleState}, not held by a launch hook`);
      const target = { instanceId, autoScalingGroupName: asg.autoScalingGroupName, lifecycleHookName: config.launchHookName };
      if (parsed.origin !== 'WarmPool' || asg.lifecycleState !== 'Pending:Wait') {
        // A new instance, or one launching into the pool: nothing of ours on it.
        const completed = await deps.hooks.complete(target, 'CONTINUE');
        logger.info(`launch action completed (${parsed.origin}, ${asg.lifecycleState})`);
        return { outcome: 'completed', completed };
      }
      const node = await nodeOf(deps, { instanceId, ec2 }, timeLeft(context), { list: true });
      const outcome = node ? await uncordonNode(kube(), node.name) : 'no-node';
      if (outcome === 'uncordoned') count(metrics, Metric.WarmPoolReturns);
      logger.info(`back from the warm pool: ${outcome}`);
      const completed = await deps.hooks.complete(target, 'CONTINUE');
      return { outcome, completed };
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };

export const handler = withRealDeps(makeNodeMarks, { hooks: lifecycleHooks, ec2: ec2Instances, kube: kubeApi });
