/** The Kubernetes API of the cluster, authenticated as the function's role (EKS DescribeCluster + STS-presigned token). */
import { createClusterInfoProvider, createEksClient, createEksTokenProvider } from '../../adapters/eks-auth';
import { ConfigurationError } from '../../adapters/errors';
import { KubeClient, type KubeCredentials } from '../../adapters/kube-client';
import type { CapabilityFactory } from '../deps';

export const kubeApi: CapabilityFactory<'kube'> = ({ config, clock }) => {
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  let credentials: (() => Promise<KubeCredentials>) | undefined;
  const kubeCredentials = () => {
    if (!config.clusterName) throw new ConfigurationError('CLUSTER_NAME is not set');
    if (!credentials) {
      const cluster = createClusterInfoProvider(createEksClient(), config.clusterName);
      const tokens = createEksTokenProvider({ clusterName: config.clusterName, region, clock });
      credentials = async () => ({ ...(await cluster.get()), token: await tokens.token() });
    }
    return credentials;
  };
  return (timeLeftMs) => {
    const until = clock.now() + timeLeftMs;
    return new KubeClient(kubeCredentials(), { clock, until: () => until });
  };
};
