import { STATUS_CODES } from 'node:http';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { outcome } from './outcome.ts';

/**
 * Requests Node refuses before Express sees them (a request head over its
 * 16 KiB limit, bytes that are not HTTP) would otherwise get a bare status
 * line with no body; every refusal we send is an OperationOutcome saying why.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    // Node's own timeouts (headersTimeout, requestTimeout) keep their 408.
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const text =
      status === 431
        ? 'The request line and headers are larger than this server accepts (16 KiB); send long searches as POST [type]/_search'
        : status === 408
          ? 'The request was not received in time'
          : 'The request is not valid HTTP';
    const body = JSON.stringify(outcome(status === 431 ? 'too-costly' : status === 408 ? 'timeout' : 'structure', text));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/fhir+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
    );
  });
}
