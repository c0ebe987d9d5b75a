// Small request bodies read whole (JSON, playlist files): bounded, so a client cannot make the
// daemon buffer more than the limit.

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
