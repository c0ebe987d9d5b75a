// The LocalSend identity: one self-signed certificate, made on first run and kept in state/, whose
// SHA-256 is the fingerprint phones pin. It serves HTTPS and is our client certificate on /register.
// The one file that uses selfsigned.
import { execFile } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileDurable } from '../../library/durable.js';
import type { Logger } from '../../log.js';

const execFileAsync = promisify(execFile);

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

/**
 * Makes the key and certificate in a child process, with selfsigned. Importing it here would keep
 * it and the PKI libraries under it in the daemon's heap for good (about 1.5 MB, for a job done once).
 * As the official apps make theirs: RSA-2048, CN "LocalSend User", no SAN, valid from long ago (a
 * box's clock may be wrong). Without an explicit extension list selfsigned adds a DNS SAN; clients
 * pin the fingerprint, not names.
 */
const CREATE_SCRIPT = `
const { generate } = await import(process.argv[1]);
const made = await generate([{ name: 'commonName', value: 'LocalSend User' }], {
  keyType: 'rsa', keySize: 2048, algorithm: 'sha256',
  notBeforeDate: new Date(Date.UTC(1975, 0, 1)), notAfterDate: new Date(Date.UTC(4096, 0, 1)),
  extensions: [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
  ],
});
process.stdout.write(made.private.trim() + '\\n' + made.cert.trim() + '\\n');
`;

async function create(): Promise<string> {
  const selfsigned = pathToFileURL(createRequire(import.meta.url).resolve('selfsigned')).href;
  const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '--eval', CREATE_SCRIPT, selfsigned], { timeout: 60_000, maxBuffer: 64 * 1024 });
  return stdout;
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
