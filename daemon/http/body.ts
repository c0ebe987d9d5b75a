// Request bodies: when a client waiting on "Expect: 100-continue" may send one, and small bodies
// read whole (SOAP, JSON, playlist files), bounded so a client cannot make the daemon buffer more.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Requests whose client has been told "100 Continue". */
const continued = new WeakSet<IncomingMessage>();

function expectsContinue(req: IncomingMessage): boolean {
  return /100-continue/i.test(req.headers.expect ?? '');
}

/**
 * Lets a client waiting on "Expect: 100-continue" send its body. The servers send no 100 by
 * themselves (http/server.ts): a handler calls this once it has accepted the request (access, size,
 * free space), so a refused upload is never transmitted. Idempotent; nothing for other clients.
 */
export function allowBody(req: IncomingMessage, res: ServerResponse): void {
  if (!expectsContinue(req) || continued.has(req)) return;
  res.writeContinue();
  continued.add(req);
}

/** False while a client still waits for its "100 Continue": it has sent no body, and will send none. */
export function bodyAllowed(req: IncomingMessage): boolean {
  return !expectsContinue(req) || continued.has(req);
}

/** Reads the whole stream; throws `tooLarge()` as soon as more than `limit` bytes have arrived. */
export async function readBounded(stream: AsyncIterable<Buffer>, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
