import pino from 'pino';
import type { Logger } from 'pino';

/**
 * Structured JSON logs. Personal data never goes in: we log request ids,
 * route shapes, statuses and counts, never bodies, query strings or names.
 * The redact list is a second line of defence for fields that must not
 * appear even by mistake. The test run scans every line the gateway logged
 * for the test data's NHS numbers, names and addresses (test/support/log-scan.ts).
 *
 * Lines go to stdout unless `file` is given (LOG_FILE), which is appended to.
 */
export function createLogger(level: string, file?: string): Logger {
  const options = {
    level,
    base: { service: 'joinedup' },
    redact: {
      paths: ['req.headers.authorization', 'name', 'nhsNumber', 'address', 'birthDate', '*.name', '*.nhsNumber', '*.address'],
      censor: '[redacted]',
    },
  };
  if (file === undefined) return pino(options);
  // Asynchronous, flushed on exit: a synchronous write per line would slow every request.
  return pino(options, pino.destination({ dest: file, append: true, mkdir: true, sync: false }));
}
