import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { unauditedExchanges } from './audit-coverage.ts';
import { testPatient } from './fixtures.ts';
import { collectTestPersonalData, describeProblems, emptyPersonalData, scanLogDir } from './log-scan.ts';
import { TEST_ACTOR } from './test-server.ts';

/**
 * Before the run: checks TEST_DATABASE_URL's PostgreSQL and makes the log
 * directory. After it: scans every line the test gateways logged for the
 * test data's NHS numbers, names and addresses, and fails the run if any is
 * there (issue #9: personal data never in logs); then checks that every
 * exchange those gateways answered that must be audited left an audit record
 * naming its request (audit-coverage.ts, issue #6).
 */
export default async function setup(project: TestProject): Promise<() => void> {
  await checkTestDatabase();
  // JOINEDUP_TEST_LOG_DIR keeps the logs where CI wants them; otherwise a fresh directory, removed when clean.
  const chosen = process.env.JOINEDUP_TEST_LOG_DIR;
  const dir = chosen ?? mkdtempSync(join(tmpdir(), 'joinedup-test-logs-'));
  mkdirSync(dir, { recursive: true });
  project.provide('joinedupTestLogDir', dir);
  return () => {
    scanTestLogs(dir);
    checkAuditCoverage(dir);
    if (!chosen) rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * With TEST_DATABASE_URL set, the storage and API suites also run against that
 * PostgreSQL. It must be reachable: a silent fallback to PGlite would hide a
 * broken CI database.
 */
async function checkTestDatabase(): Promise<void> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`TEST_DATABASE_URL is set but PostgreSQL cannot be reached: ${(err as Error).message}`);
  }
  // Extensions are per database: create once here so parallel test schemas do not race.
  await client.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  await client.end();
}

function scanTestLogs(dir: string): void {
  const started = readdirSync(dir).filter((f) => f.endsWith('.started'));
  const logs = new Set(readdirSync(dir).filter((f) => f.endsWith('.ndjson')));
  // A gateway that wrote no log file would make the scan pass by seeing nothing.
  const silent = started.map((f) => f.replace(/\.started$/, '.ndjson')).filter((f) => !logs.has(f));
  if (silent.length > 0) {
    throw new Error(`Log scan: ${silent.length} test gateway(s) wrote no log file (LOG_FILE not honoured by createLogger/startServer), e.g. ${silent[0]} in ${dir}`);
  }
  const data = emptyPersonalData();
  // testPatient's family names carry their seed: every seed is looked for.
  const family = testPatient(424242).name?.[0]?.family ?? '';
  data.namePatterns.push(new RegExp(`(?<![\\p{L}\\p{N}])${family.replace('424242', '')}\\d+(?![\\p{L}\\p{N}])`, 'u'));
  for (const given of testPatient(1).name?.[0]?.given ?? []) data.names.add(given);
  // The harness's user: a whole name ("Test" alone is everywhere).
  if (TEST_ACTOR.user.name) data.names.add(TEST_ACTOR.user.name);
  collectTestPersonalData(['test', 'docs/examples', 'mappings'], data);
  const result = scanLogDir(dir, data);
  const problems = describeProblems(result);
  if (problems) {
    throw new Error(`Log scan over ${result.files} log file(s), ${result.lines} line(s), kept in ${dir}:\n${problems}`);
  }
  const gaps = [...result.withoutRequestId].map(([msg, n]) => `${msg} (${n})`).join(', ');
  console.log(
    `Log scan: ${result.lines} line(s) in ${result.files} file(s) free of ${data.names.size} names, ${data.addressLines.size} address lines, ${data.postcodes.size} postcodes, ${data.phones.size} phone numbers and test NHS numbers.` +
      (gaps ? ` Logged without a requestId: ${gaps}.` : '')
  );
}

/** Every exchange the test gateways answered that must leave an audit record left one (audit-coverage.ts). */
function checkAuditCoverage(dir: string): void {
  const { checked, problems } = unauditedExchanges(dir);
  if (problems.length) {
    throw new Error(`Audit coverage: ${problems.length} of ${checked} exchange(s) left no audit record naming their request (logs kept in ${dir}):\n${problems.slice(0, 20).join('\n')}`);
  }
  console.log(`Audit coverage: all ${checked} exchange(s) that must be audited left a record naming their request.`);
}
