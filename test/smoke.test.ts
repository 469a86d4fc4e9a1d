import * as k8s from '@kubernetes/client-node';
import { StateMachine } from 'aws-local-stepfunctions';
test('toolchain loads the ESM-only Kubernetes client and the local Step Functions runner', () => {
  expect(typeof k8s.KubeConfig).toBe('function');
  expect(typeof StateMachine).toBe('function');
});
