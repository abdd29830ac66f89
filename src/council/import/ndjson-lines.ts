/** One line of an NDJSON stream, numbered from 1 as an editor numbers them. */
export type NdjsonLine =
  | { line: number; text: string; tooLong?: undefined }
  /** Longer than the line limit: its bytes were discarded, never held whole. */
  | { line: number; text?: undefined; tooLong: true };

/** The stream as a whole passed its byte cap; reading stopped there. */
export class StreamTooLargeError extends Error {
  override name = 'StreamTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`The stream is larger than ${maxBytes} bytes`);
  }
}

export interface NdjsonLimits {
  /** A line longer than this (bytes, counting a CR before its LF) is reported tooLong and skipped. */
  maxLineBytes: number;
  /** Reading stops with StreamTooLargeError once more than this has arrived. */
  maxTotalBytes: number;
}

const LF = 0x0a;
const CR = 0x0d;
const BOM = '\uFEFF';

/**
 * Splits a byte stream into lines lazily: the next chunk is read only when the
 * consumer asks for the next line, so a slow consumer holds back the producer
 * (for an HTTP request, TCP flow control holds back the client). Memory is
 * bounded by one chunk plus one line of at most maxLineBytes, however long the
 * stream, and however long a line an attacker sends. Lines are split on LF
 * (a CR before it is dropped) and decoded as UTF-8 whole, so a character
 * split across chunks is never mangled. Blank lines are yielded too (the
 * caller decides), so numbering always matches the file.
 */
export async function* ndjsonLines(source: AsyncIterable<Buffer | Uint8Array | string>, limits: NdjsonLimits): AsyncGenerator<NdjsonLine> {
  let line = 1;
  let parts: Buffer[] = [];
  let partBytes = 0;
  let tooLong = false;
  let total = 0;

  const finish = (): NdjsonLine => {
    const n = line++;
    if (tooLong) {
      parts = [];
      partBytes = 0;
      tooLong = false;
      return { line: n, tooLong: true };
    }
    let buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, partBytes);
    if (buf.length > 0 && buf[buf.length - 1] === CR) buf = buf.subarray(0, buf.length - 1);
    parts = [];
    partBytes = 0;
    let text = buf.toString('utf8');
    if (n === 1 && text.startsWith(BOM)) text = text.slice(1);
    return { line: n, text };
  };
  const append = (piece: Buffer): void => {
    if (tooLong || piece.length === 0) return;
    if (partBytes + piece.length > limits.maxLineBytes) {
      tooLong = true;
      parts = [];
      partBytes = 0;
      return;
    }
    // Copy: the chunk's buffer may be large and is otherwise kept alive by a small slice.
    parts.push(Buffer.from(piece));
    partBytes += piece.length;
  };

  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    total += chunk.length;
    if (total > limits.maxTotalBytes) throw new StreamTooLargeError(limits.maxTotalBytes);
    let start = 0;
    for (let i = chunk.indexOf(LF, start); i !== -1; i = chunk.indexOf(LF, start)) {
      append(chunk.subarray(start, i));
      start = i + 1;
      yield finish();
    }
    append(chunk.subarray(start));
  }
  if (tooLong || partBytes > 0) yield finish();
}
