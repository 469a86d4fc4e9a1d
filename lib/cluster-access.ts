import { CfnOutput } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { DrainFunctionKey } from './drain-functions';

/**
 * Kubernetes group the drain's roles are mapped to. lib/kubernetes/rbac.yaml binds
 * the `eks-graceful-drain` ClusterRole to this group; keep the two in step (a test does).
 */
export const KUBERNETES_GROUP = 'eks-graceful-drain';

/**
 * The functions that call the Kubernetes API: the ones lib/drain-functions.ts
 * grants eks:DescribeCluster (endpoint and CA). start-drain, heartbeat and
 * complete only talk to AWS APIs and get no Kubernetes identity.
 */
export const KUBERNETES_FUNCTIONS = ['prepare', 'cordon', 'drainStep', 'applyDeadline'] as const satisfies readonly DrainFunctionKey[];
/** node-marks (warm-pool returns, rebalance cordons) exists only when one of those features is on. */
export type KubernetesFunctionKey = (typeof KUBERNETES_FUNCTIONS)[number] | 'nodeMarks';

export interface ClusterAccessProps {
  /** Name of the EKS cluster the functions call. */
  readonly clusterName: string;
  /** The drain's functions; those in {@link KUBERNETES_FUNCTIONS} must have a role. */
  readonly functions: Record<Exclude<KubernetesFunctionKey, 'nodeMarks'>, IFunction> & { readonly nodeMarks?: IFunction };
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
 * an EKS access entry per role (type STANDARD, in the group {@link KUBERNETES_GROUP},
 * no access policy: the permissions come from the RBAC of lib/kubernetes/rbac.yaml,
 * which must be applied to the cluster). Outputs the role ARNs and the group either
 * way, for an aws-auth mapping.
 */
export class ClusterAccess extends Construct {
  /** The Kubernetes group the roles are mapped to. */
  public readonly kubernetesGroup = KUBERNETES_GROUP;
  /** ARN of each Kubernetes-facing function's role. */
  public readonly roleArns: Record<KubernetesFunctionKey, string>;
  /** The access entries; empty with `createAccessEntries: false`. */
  public readonly accessEntries: Partial<Record<KubernetesFunctionKey, eks.CfnAccessEntry>>;

  constructor(scope: Construct, id: string, props: ClusterAccessProps) {
    super(scope, id);
    const create = props.createAccessEntries ?? true;

    this.roleArns = {} as Record<KubernetesFunctionKey, string>;
    this.accessEntries = {};
    const keys: KubernetesFunctionKey[] = [...KUBERNETES_FUNCTIONS, ...(props.functions.nodeMarks ? ['nodeMarks' as const] : [])];
    for (const key of keys) {
      const role = props.functions[key]!.role;
      if (!role) throw new Error(`ClusterAccess: the ${key} function has no role to map into the cluster`);
      const name = pascal(key);
      this.roleArns[key] = role.roleArn;

      if (create) {
        this.accessEntries[key] = new eks.CfnAccessEntry(this, `${name}AccessEntry`, {
          clusterName: props.clusterName,
          principalArn: role.roleArn,
          type: 'STANDARD',
          kubernetesGroups: [KUBERNETES_GROUP],
        });
      }

      new CfnOutput(this, `${name}RoleArn`, {
        value: role.roleArn,
        description: `Role of the ${key} function, which calls the Kubernetes API (map it to the group ${KUBERNETES_GROUP} in aws-auth if the cluster has no access entries)`,
      });
    }

    new CfnOutput(this, 'KubernetesGroup', {
      value: KUBERNETES_GROUP,
      description: 'Kubernetes group of the drain roles; lib/kubernetes/rbac.yaml binds the eks-graceful-drain ClusterRole to it',
    });
  }
}

function pascal(key: string): string {
  return key.charAt(0).toUpperCase() + key.slice(1);
}
