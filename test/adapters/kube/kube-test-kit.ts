/** A fake cluster on a virtual clock and a KubeClient pointed at it over HTTPS. */
import { KubeClient } from '../../../lambda/adapters/kube-client';
import { FakeKubeServer } from '../../../sim/kube/server';
import { VirtualClock } from '../../../sim/virtual-clock';

export const NODE = 'ip-10-0-0-1.ec2.internal';
export const SPARE = 'ip-10-0-0-2.ec2.internal';
export const INSTANCE = 'i-0aaaaaaaaaaaaaaa1';

export interface Kit {
  clock: VirtualClock;
  server: FakeKubeServer;
  kube: KubeClient;
}

/** `cordoned`: NODE starts as Cordon leaves it (unschedulable, with the drain's taint), as every drain round finds it. */
export async function startKit(opts: { timeLeftMs?: number; cordoned?: boolean; server?: Parameters<typeof FakeKubeServer.start>[0] } = {}): Promise<Kit> {
  const clock = new VirtualClock(Date.parse('2026-01-01T00:00:00Z'), { autoAdvance: true });
  const server = await FakeKubeServer.start({ clock, ...opts.server });
  server.addNode({
    name: NODE,
    instanceId: INSTANCE,
    ...(opts.cordoned ? { unschedulable: true, taints: [{ key: 'eks-graceful-drain/draining', value: '0123456789abcdef', effect: 'NoSchedule' }] } : {}),
  });
  server.addNode({ name: SPARE, instanceId: 'i-0bbbbbbbbbbbbbbb2' });
  const until = clock.now() + (opts.timeLeftMs ?? 110_000);
  const kube = new KubeClient(
    async () => ({ endpoint: server.url, caData: Buffer.from(server.caPem).toString('base64'), token: server.token }),
    { clock, until: () => until },
  );
  return { clock, server, kube };
}

export const names = (server: FakeKubeServer, nodeName = NODE) =>
  server.pods({ nodeName }).map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort();
