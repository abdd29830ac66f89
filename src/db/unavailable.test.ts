import { OperationOutcomeError, getStatus } from '@medplum/core';
import { describe, expect, it } from 'vitest';
import { sanitizeDbError } from './guarded-sql.ts';
import { DatabaseUnavailableError, databaseUnavailableOutcome, isDatabaseUnavailable, isDatabaseUnavailableOutcome } from './unavailable.ts';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it.each([
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['connection reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['admin shutdown 57P01', pgError('57P01', 'terminating connection due to administrator command')],
    ['crash shutdown 57P02', pgError('57P02')],
    ['starting up 57P03', pgError('57P03', 'the database system is starting up')],
    ['connection exception 08006', pgError('08006')],
    ['connection does not exist 08003', pgError('08003')],
    ['too many connections 53300', pgError('53300')],
    ['pg: connection terminated', new Error('Connection terminated unexpectedly')],
    ['pg-pool: connect timeout', new Error('timeout exceeded when trying to connect')],
    ['pg: connection timeout', new Error('Connection terminated due to connection timeout')],
    ['pg: dead client', new Error('Client has encountered a connection error and is not queryable')],
    ['both addresses refused', new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' }), Object.assign(new Error('b'), { code: 'ECONNREFUSED' })])],
    ['wrapped', new Error('outer', { cause: pgError('57P01') })],
    ['our own error', new DatabaseUnavailableError()],
    ['our outcome in an OperationOutcomeError', new OperationOutcomeError(databaseUnavailableOutcome())],
  ])('%s: yes', (_name, err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it.each([
    ['unique violation', pgError('23505')],
    ['serialization failure', pgError('40001')],
    ['syntax error', pgError('42601')],
    ['statement timeout (the server is up)', pgError('57014')],
    ['a plain bug', new TypeError('x is undefined')],
    ['a file not found', Object.assign(new Error('no such file'), { code: 'ENOENT' })],
    ['a medplum server timeout', new OperationOutcomeError({ resourceType: 'OperationOutcome', id: 'server-timeout', issue: [{ severity: 'error', code: 'timeout' }] })],
    ['nothing', undefined],
    ['a string', 'ECONNREFUSED'],
  ])('%s: no', (_name, err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });
});

describe('DatabaseUnavailableError', () => {
  it('carries a transient outcome that any status mapping treats as a server failure, never a client one', () => {
    const err = new DatabaseUnavailableError(pgError('57P01'));
    expect(err.code).toBe('57P01');
    expect(err.outcome.issue?.[0]?.code).toBe('transient');
    expect(err.outcome.issue?.[0]?.details?.text).toContain('The database is unavailable');
    expect(getStatus(err.outcome)).toBeGreaterThanOrEqual(500);
    expect(isDatabaseUnavailableOutcome(err.outcome)).toBe(true);
  });

  it('is what guarded SQL turns a lost connection into; other driver errors stay internal errors', () => {
    const logged: unknown[] = [];
    expect(sanitizeDbError(pgError('08006'), (e) => logged.push(e))).toBeInstanceOf(DatabaseUnavailableError);
    const other = sanitizeDbError(pgError('42601', 'syntax error at "Pemberton"'), (e) => logged.push(e));
    expect(other).not.toBeInstanceOf(DatabaseUnavailableError);
    expect(other.message).not.toContain('Pemberton');
    expect(logged).toHaveLength(2);
  });
});
