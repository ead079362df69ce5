/**
 * A self-signed certificate for the simulator's API-SSL listener: generated once per process with the
 * `openssl` command when it exists (Node cannot create certificates by itself), otherwise the test-only
 * fixture shipped next to this file. Valid for 127.0.0.1 and localhost.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';

export interface SimCertificate {
  cert: string;
  key: string;
  /** SHA-256 fingerprint, `AA:BB:...`. */
  fingerprint256: string;
}

let cached: Promise<SimCertificate> | null = null;

export function simulatorCertificate(): Promise<SimCertificate> {
  cached ??= generate().catch(() => fixture());
  return cached;
}

async function generate(): Promise<SimCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'routeros-sim-'));
  try {
    await promisify(execFile)(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
        '-subj', '/CN=routeros-simulator', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { timeout: 15_000 },
    );
    return finish(await readFile(join(dir, 'cert.pem'), 'utf8'), await readFile(join(dir, 'key.pem'), 'utf8'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function fixture(): Promise<SimCertificate> {
  const here = dirname(fileURLToPath(import.meta.url));
  return finish(await readFile(join(here, 'fixtures', 'sim-cert.pem'), 'utf8'), await readFile(join(here, 'fixtures', 'sim-key.pem'), 'utf8'));
}

function finish(cert: string, key: string): SimCertificate {
  return { cert, key, fingerprint256: new X509Certificate(cert).fingerprint256 };
}

/** The shipped fixture, for tests that need a certificate the simulator does NOT use. */
export function fixtureCertificate(): Promise<SimCertificate> {
  return fixture();
}
