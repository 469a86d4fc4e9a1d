/**
 * The node of a verified drain target. Apart from target.ts so that the
 * functions that never talk to Kubernetes (start-drain, heartbeat, complete,
 * sweep) do not bundle @kubernetes/client-node through it (see bench:cold).
 */
import { findNode, type FoundNode } from '../adapters/kube-nodes';
import type { BaseDeps, DepsWith } from './deps';
import type { DrainTarget } from './target';

/**
 * The target's node, verified by spec.providerID: a GET of the node the
 * previous step found (a name from the input is only a candidate), then of the
 * instance's private DNS name; a paged LIST only where `list` is allowed
 * (Prepare and node-marks, whose RBAC has it).
 */
export async function nodeOf(
  deps: BaseDeps & DepsWith<'kube'>,
  target: Pick<DrainTarget, 'instanceId' | 'ec2'>,
  timeLeftMs: number,
  options: { candidate?: string | null; list?: boolean } = {},
): Promise<FoundNode | undefined> {
  const node = await findNode(deps.kube(timeLeftMs), target.instanceId, async () => target.ec2?.privateDnsName, {
    candidates: [options.candidate],
    list: options.list ?? false,
  });
  if (node) deps.logger.appendKeys({ node: node.name });
  return node;
}
