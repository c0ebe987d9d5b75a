// The LocalSend identity: one self-signed certificate, made on first run and kept in state/, whose
// SHA-256 is the fingerprint phones pin. It serves HTTPS and is our client certificate on /register.
// The one file that imports selfsigned.
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileDurable } from '../../library/durable.js';
import type { Logger } from '../../log.js';

export interface LocalSendIdentity {
  /** PEM */
  key: string;
  /** PEM */
  cert: string;
  /** SHA-256 of the certificate's DER, uppercase hex: what LocalSend calls the fingerprint. */
  fingerprint: string;
}

export const IDENTITY_FILE = 'localsend-identity.pem';

/** LocalSend's fingerprint of a certificate given as DER. */
export function certFingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase();
}

function parse(pem: string): LocalSendIdentity {
  const keyPem = /-----BEGIN (?:RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA )?PRIVATE KEY-----/.exec(pem)?.[0];
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!keyPem || !certPem) throw new Error('it does not hold a private key and a certificate');
  const x509 = new X509Certificate(certPem);
  if (!x509.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the certificate does not belong to the key');
  return { key: keyPem + '\n', cert: certPem + '\n', fingerprint: certFingerprint(x509.raw) };
}

/** As the official apps make theirs: RSA-2048, CN "LocalSend User", no SAN, valid from long ago (a box's clock may be wrong). */
async function create(): Promise<string> {
  // Loaded only on first run: selfsigned and the PKI libraries under it cost memory for good once imported.
  const { generate } = await import('selfsigned');
  const made = await generate([{ name: 'commonName', value: 'LocalSend User' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.UTC(1975, 0, 1)),
    notAfterDate: new Date(Date.UTC(4096, 0, 1)),
    // Without an explicit list selfsigned adds a DNS SAN; clients pin the fingerprint, not names.
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    ],
  });
  return `${made.private.trim()}\n${made.cert.trim()}\n`;
}

/**
 * The identity kept in `stateDir`, made (and written durably, readable by us only) when there is none.
 * An unreadable file is replaced: phones then see a new fingerprint, which beats no LocalSend at all.
 */
export async function loadOrCreateIdentity(stateDir: string, log: Logger): Promise<LocalSendIdentity> {
  const file = path.join(stateDir, IDENTITY_FILE);
  let text: string | null = null;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== null) {
    try {
      return parse(text);
    } catch (err) {
      log.warn({ file, reason: (err as Error).message }, 'LocalSend identity unreadable; making a new one (phones will see a new fingerprint)');
    }
  }
  const pem = await create();
  await writeFileDurable(file, pem, false, 0o600);
  const identity = parse(pem);
  log.info({ file, fingerprint: identity.fingerprint }, 'LocalSend identity created');
  return identity;
}
