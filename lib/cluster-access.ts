import * as path from 'path';
import { CfnOutput } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { DeadlinePolicy } from '../lambda/core/drain-state';
import type { DrainFunctionKey } from './drain-functions';

/**
 * Every function that may call the Kubernetes API: the ones lib/drain-functions.ts
 * grants eks:DescribeCluster (endpoint and CA). start-drain, heartbeat and
 * complete only talk to AWS APIs and get no Kubernetes identity.
 */
export const KUBERNETES_FUNCTIONS = ['prepare', 'cordon', 'drainStep', 'applyDeadline'] as const satisfies readonly DrainFunctionKey[];
/** node-marks (warm-pool returns, rebalance cordons) exists only when one of those features is on. */
export type KubernetesFunctionKey = (typeof KUBERNETES_FUNCTIONS)[number] | 'nodeMarks';

/**
 * The Kubernetes group of each function's role: one group per function, each
 * bound to a ClusterRole of its own in lib/kubernetes/ with only what that
 * function does (a test keeps the two in step).
 */
export const KUBERNETES_GROUPS: Record<KubernetesFunctionKey, string> = {
  prepare: 'eks-graceful-drain:prepare',
  cordon: 'eks-graceful-drain:cordon',
  drainStep: 'eks-graceful-drain:drain-step',
  applyDeadline: 'eks-graceful-drain:apply-deadline',
  nodeMarks: 'eks-graceful-drain:node-marks',
};

/** The manifests to apply to the cluster, with what each is for. */
export const KUBERNETES_MANIFESTS_DIR = path.join(__dirname, 'kubernetes');
export const KUBERNETES_MANIFESTS = {
  /** ClusterRoles and bindings of prepare, cordon and drain-step. */
  rbac: path.join(KUBERNETES_MANIFESTS_DIR, 'rbac.yaml'),
  /** apply-deadline's pod deletion: with onDeadline=force-delete or Spot drains (see {@link applyDeadlineDeletesPods}). */
  forceDelete: path.join(KUBERNETES_MANIFESTS_DIR, 'rbac-force-delete.yaml'),
  /** node-marks' node get/list/patch, with warmPools or cordonOnRebalanceRecommendation only. */
  nodeMarks: path.join(KUBERNETES_MANIFESTS_DIR, 'rbac-node-marks.yaml'),
  /** A ValidatingAdmissionPolicy: our groups may change only the cordon, our taint and our label of a node. */
  nodeAdmissionPolicy: path.join(KUBERNETES_MANIFESTS_DIR, 'node-admission-policy.yaml'),
} as const;

/** What decides which functions call the Kubernetes API. */
export interface KubernetesAccessOptions {
  /** Spot interruptions are drained (EksGracefulDrainProps.spotInterruptions). @default true */
  readonly spotInterruptions?: boolean;
}

/**
 * Whether apply-deadline deletes pods, and so needs rbac-force-delete.yaml:
 * with onDeadline=force-delete, and whenever Spot drains are on — a Spot
 * drain deletes the pods a PDB still holds when its two minutes run out,
 * whatever onDeadline says (the instance goes anyway). With neither it calls
 * no Kubernetes API and gets no identity in the cluster.
 */
export function applyDeadlineDeletesPods(onDeadline: DeadlinePolicy, options: KubernetesAccessOptions = {}): boolean {
  return onDeadline === 'force-delete' || (options.spotInterruptions ?? true);
}

/**
 * The functions that call the Kubernetes API under this policy: apply-deadline
 * only deletes pods, so it needs a Kubernetes identity only when it may delete them.
 */
export function kubernetesFunctions(onDeadline: DeadlinePolicy, options: KubernetesAccessOptions = {}): KubernetesFunctionKey[] {
  return KUBERNETES_FUNCTIONS.filter((key) => key !== 'applyDeadline' || applyDeadlineDeletesPods(onDeadline, options));
}

/** The manifests a cluster needs under this policy. */
export function kubernetesManifests(onDeadline: DeadlinePolicy, options: KubernetesAccessOptions & { nodeMarks?: boolean } = {}): string[] {
  return [
    KUBERNETES_MANIFESTS.rbac,
    ...(applyDeadlineDeletesPods(onDeadline, options) ? [KUBERNETES_MANIFESTS.forceDelete] : []),
    ...(options.nodeMarks ? [KUBERNETES_MANIFESTS.nodeMarks] : []),
    KUBERNETES_MANIFESTS.nodeAdmissionPolicy,
  ];
}

export interface ClusterAccessProps {
  /** Name of the EKS cluster the functions call. */
  readonly clusterName: string;
  /** The drain's functions; those named in `kubernetesFunctions` must have a role (node-marks exists only with warm pools or rebalance cordons). */
  readonly functions: Record<Exclude<KubernetesFunctionKey, 'nodeMarks'>, IFunction> & { readonly nodeMarks?: IFunction };
  /** The functions that call the Kubernetes API (see {@link kubernetesFunctions}). */
  readonly kubernetesFunctions: readonly KubernetesFunctionKey[];
  /**
   * Create an EKS access entry for each Kubernetes-facing role. Needs a cluster
   * whose authentication mode is API or API_AND_CONFIG_MAP; with CONFIG_MAP, turn
   * this off and map the output role ARNs in the aws-auth ConfigMap instead.
   * @default true
   */
  readonly createAccessEntries?: boolean;
}

/**
 * Gives the drain's Kubernetes-facing Lambda roles an identity in the cluster:
 * an EKS access entry per role (type STANDARD, in that function's own group of
 * {@link KUBERNETES_GROUPS}, no access policy: the permissions come from the
 * RBAC of lib/kubernetes/, which must be applied to the cluster). Outputs each
 * role ARN and its group either way, for an aws-auth mapping.
 */
export class ClusterAccess extends Construct {
  /** The Kubernetes group of each Kubernetes-facing function. */
  public readonly kubernetesGroups: Partial<Record<KubernetesFunctionKey, string>>;
  /** ARN of each Kubernetes-facing function's role. */
  public readonly roleArns: Partial<Record<KubernetesFunctionKey, string>>;
  /** The access entries; empty with `createAccessEntries: false`. */
  public readonly accessEntries: Partial<Record<KubernetesFunctionKey, eks.CfnAccessEntry>>;

  constructor(scope: Construct, id: string, props: ClusterAccessProps) {
    super(scope, id);
    const create = props.createAccessEntries ?? true;

    this.kubernetesGroups = {};
    this.roleArns = {};
    this.accessEntries = {};
    for (const key of props.kubernetesFunctions) {
      const role = props.functions[key]?.role;
      if (!role) throw new Error(`ClusterAccess: the ${key} function has no role to map into the cluster`);
      const name = pascal(key);
      const group = KUBERNETES_GROUPS[key];
      this.kubernetesGroups[key] = group;
      this.roleArns[key] = role.roleArn;

      if (create) {
        this.accessEntries[key] = new eks.CfnAccessEntry(this, `${name}AccessEntry`, {
          clusterName: props.clusterName,
          principalArn: role.roleArn,
          type: 'STANDARD',
          kubernetesGroups: [group],
        });
      }

      new CfnOutput(this, `${name}RoleArn`, {
        value: role.roleArn,
        description: `Role of the ${key} function, which calls the Kubernetes API as the group ${group} (map it to that group in aws-auth if the cluster has no access entries)`,
      });
      new CfnOutput(this, `${name}KubernetesGroup`, {
        value: group,
        description: `Kubernetes group of the ${key} function's role; lib/kubernetes/ binds its ClusterRole to it`,
      });
    }
  }
}

function pascal(key: string): string {
  return key.charAt(0).toUpperCase() + key.slice(1);
}
