import pino from 'pino';
import type { Logger } from 'pino';

/**
 * Structured JSON logs. Personal data never goes in: we log request ids,
 * route shapes, statuses and counts, never bodies, query strings or names.
 * The redact list is a second line of defence for fields that must not
 * appear even by mistake.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'joinedup' },
    redact: {
      paths: ['req.headers.authorization', 'name', 'nhsNumber', 'address', 'birthDate', '*.name', '*.nhsNumber', '*.address'],
      censor: '[redacted]',
    },
  });
}
