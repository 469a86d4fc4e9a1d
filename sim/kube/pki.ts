import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway certificate authority and a server certificate for 127.0.0.1 and localhost. */
export interface TestPki {
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

let cached: TestPki | undefined;

/**
 * Generates the PKI once per process with the openssl CLI. Both client-node
 * (which refuses plain http) and kubectl (which sends a bearer token only over
 * TLS) need HTTPS, as EKS serves it.
 */
export function testPki(): TestPki {
  cached ??= generate();
  return cached;
}

function generate(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'fake-kube-pki-'));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  try {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
      '-subj', '/CN=fake-kube-ca', '-keyout', path('ca.key'), '-out', path('ca.crt'));
    openssl('req', '-newkey', 'rsa:2048', '-nodes',
      '-subj', '/CN=fake-kube-apiserver', '-keyout', path('server.key'), '-out', path('server.csr'));
    // Go's TLS stack (kubectl) ignores the CN: the names must be subjectAltNames.
    writeFileSync(path('server.ext'), [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
    ].join('\n'));
    openssl('x509', '-req', '-in', path('server.csr'), '-CA', path('ca.crt'), '-CAkey', path('ca.key'),
      '-CAcreateserial', '-days', '2', '-extfile', path('server.ext'), '-out', path('server.crt'));
    return {
      caPem: readFileSync(path('ca.crt'), 'utf8'),
      serverCertPem: readFileSync(path('server.crt'), 'utf8'),
      serverKeyPem: readFileSync(path('server.key'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
