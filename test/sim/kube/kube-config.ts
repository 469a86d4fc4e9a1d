import { KubeConfig } from '@kubernetes/client-node';
import type { FakeKubeServer } from '../../../sim/kube/server';

/** A KubeConfig of the real library for the fake server (its CA, a bearer token), as the product's adapter builds one. */
export function kubeConfigFor(server: FakeKubeServer, token = server.token): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: server.url, caData: Buffer.from(server.caPem).toString('base64') }],
    users: [{ name: 'fake', token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
    currentContext: 'fake',
  });
  return kc;
}
