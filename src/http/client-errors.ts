// Requests Node's HTTP parser refuses before Fastify sees them (a malformed request line or
// header, a request line or headers over the size limit, a request that took too long) are
// answered here, in the Stitch error shape like every other error, then the connection is closed.

import { maxHeaderSize as maxHeaderSizeDefault, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { BasteError } from '../errors.js';
import { statusOf } from './errors.js';

/** What the parser reported, as the error the client gets. */
export function clientErrorOf(err: { code?: string; rawPacket?: unknown }, maxHeaderSize = maxHeaderSizeDefault): BasteError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new BasteError('RequestTimeout', 'the request was not received in time');
    case 'HPE_HEADER_OVERFLOW': {
      // Node counts the request line with the headers: when the bytes that overflowed start with
      // a request line of more than half the limit, it is the URL that is too long.
      const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.toString('latin1') : '';
      const eol = raw.indexOf('\r\n');
      const lineLength = eol < 0 ? raw.length : eol;
      if (/^[A-Z]+ /.test(raw) && lineLength > maxHeaderSize / 2) return new BasteError('URITooLong', 'the request URL is too long');
      return new BasteError('RequestHeaderFieldsTooLarge', 'the request headers are too large');
    }
    default:
      return new BasteError('BadRequest', 'malformed HTTP request');
  }
}

/** Fastify's `clientErrorHandler`: answers when the socket still allows it, then closes it. */
export function clientErrorHandler(link: string) {
  return (err: Error & { code?: string; rawPacket?: unknown }, socket: Duplex): void => {
    // A reset connection has nothing left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    if (socket.writable) {
      const error = clientErrorOf(err);
      const status = statusOf(error.code);
      const body = JSON.stringify({ error: error.message, error_code: error.code, link });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
