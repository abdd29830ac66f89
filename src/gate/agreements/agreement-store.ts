import { isDeepStrictEqual } from 'node:util';
import type { Database, SqlClient } from '../../db/sql-client.ts';
import { publishInvalidation } from '../../ops/cluster-invalidation.ts';
import type { SharingAgreement } from '../types.ts';
import { parseAgreementFile } from './agreement-schema.ts';
import type { AgreementFile, AgreementIssue } from './agreement-schema.ts';
import { agreementStatus, dateInEngland } from './agreement-status.ts';
import type { AgreementStatus } from './agreement-status.ts';

/**
 * Sharing agreements in the database (table sharing_agreement, migration v4).
 * Every version is kept, so a decision that cites {id, version} can always be
 * traced to the text it relied on; the newest version of an id is the one
 * the gate applies. Ending is terminal: an ended agreement cannot be revived
 * by adding a new version (agree a new one, with a new id, instead), so an
 * operator's "end" can never be undone by a later routine re-load.
 *
 * Every change notifies the running gateways inside its transaction
 * (src/ops/cluster-invalidation.ts), so they reload on COMMIT rather than
 * after their cache's maximum age.
 */

export class AgreementInvalidError extends Error {
  override name = 'AgreementInvalidError';
  constructor(readonly issues: AgreementIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  }
}

export class AgreementNotFoundError extends Error {
  override name = 'AgreementNotFoundError';
}

export class AgreementEndedError extends Error {
  override name = 'AgreementEndedError';
}

export interface StoredAgreement {
  agreement: SharingAgreement;
  createdAt: string;
  status: AgreementStatus;
}

export interface AgreementDetail {
  current: StoredAgreement;
  /** Every version, oldest first (the last is `current`). */
  history: StoredAgreement[];
}

export interface AddResult {
  id: string;
  version: number;
  /** False when the newest version already held exactly this content (re-loading a file is harmless). */
  created: boolean;
}

interface Row {
  id: string;
  version: number;
  content: AgreementFile | string;
  created_at: Date | string;
  ended_at: Date | string | null;
}

const iso = (v: Date | string): string => (v instanceof Date ? v : new Date(v)).toISOString();

// pg returns jsonb decoded; be tolerant of a driver handing back text.
const content = (r: Row): AgreementFile => (typeof r.content === 'string' ? (JSON.parse(r.content) as AgreementFile) : r.content);

/** Rebuilt field by field: jsonb keeps its own key order, and output (show, --json) should read like the file. */
function toAgreement(r: Row): SharingAgreement {
  const c = content(r);
  const lb = c.lawfulBasis;
  const a: SharingAgreement = {
    id: c.id,
    version: r.version,
    title: c.title,
    parties: c.parties.map((p) => ({ ods: p.ods, name: p.name })),
    purposes: [...c.purposes],
    dataClasses: [...c.dataClasses],
    lawfulBasis: { art6: lb.art6, art9: lb.art9 },
    period: c.period.end === undefined ? { start: c.period.start } : { start: c.period.start, end: c.period.end },
  };
  if (lb.dpaSchedule1 !== undefined) a.lawfulBasis.dpaSchedule1 = lb.dpaSchedule1;
  if (lb.commonLaw !== undefined) a.lawfulBasis.commonLaw = lb.commonLaw;
  if (lb.statutoryGateway !== undefined) a.lawfulBasis.statutoryGateway = lb.statutoryGateway;
  if (lb.legalDuty !== undefined) a.lawfulBasis.legalDuty = lb.legalDuty;
  if (r.ended_at !== null) a.endedAt = iso(r.ended_at);
  return a;
}

function toStored(r: Row, now: Date, today: string): StoredAgreement {
  const agreement = toAgreement(r);
  return { agreement, createdAt: iso(r.created_at), status: agreementStatus(agreement, now, today) };
}

const LATEST = `SELECT DISTINCT ON (id) id, version, content, created_at, ended_at
  FROM sharing_agreement ORDER BY id, version DESC`;

/** The newest row of every id, ordered by id in code-point order (database collations differ on hyphens). */
async function latestRows(sql: SqlClient): Promise<Row[]> {
  const r = await sql.query<Row>(LATEST);
  return r.rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Adds an agreement, or a new version of one. Input is an agreement file (validated here). */
export async function addAgreement(db: Database, input: unknown): Promise<AddResult> {
  const file = validated(input);
  return db.transaction((tx) => addInTransaction(tx, file));
}

/** The same, inside a transaction the caller holds (the demo seed adds agreements with its clients). */
export async function addAgreementInTransaction(tx: SqlClient, input: unknown): Promise<AddResult> {
  return addInTransaction(tx, validated(input));
}

/** True when some version of `id` exists. */
export async function agreementExists(sql: SqlClient, id: string): Promise<boolean> {
  return (await sql.query('SELECT 1 FROM sharing_agreement WHERE id = $1 LIMIT 1', [id])).rows.length > 0;
}

function validated(input: unknown): AgreementFile {
  const parsed = parseAgreementFile(input);
  if (!parsed.ok) throw new AgreementInvalidError(parsed.issues);
  return parsed.agreement;
}

async function addInTransaction(tx: SqlClient, file: AgreementFile): Promise<AddResult> {
  // Serialises adds of one id (two operators, or two instances seeding), so versions never collide.
  // 7243001-3 are taken by migrations, gateway keys and the demo seed.
  await tx.query('SELECT pg_advisory_xact_lock(7243004, hashtext($1))', [file.id]);
  const latest = await latestRow(tx, file.id);
  if (latest?.ended_at) {
    throw new AgreementEndedError(`agreement ${file.id} ends at ${iso(latest.ended_at)}; an ended agreement stays ended: give the new agreement a new id`);
  }
  if (latest && isDeepStrictEqual(content(latest), file)) return { id: file.id, version: latest.version, created: false };
  const version = (latest?.version ?? 0) + 1;
  await tx.query('INSERT INTO sharing_agreement (id, version, content) VALUES ($1, $2, $3::jsonb)', [file.id, version, JSON.stringify(file)]);
  await publishInvalidation(tx, { kind: 'agreements' });
  return { id: file.id, version, created: true };
}

async function latestRow(sql: SqlClient, id: string): Promise<Row | undefined> {
  const r = await sql.query<Row>(
    'SELECT id, version, content, created_at, ended_at FROM sharing_agreement WHERE id = $1 ORDER BY version DESC LIMIT 1',
    [id]
  );
  return r.rows[0];
}

/** The newest version of every agreement, with its status at `now`, ordered by id. */
export async function listAgreements(db: SqlClient, now: Date = new Date()): Promise<StoredAgreement[]> {
  const rows = await latestRows(db);
  const today = dateInEngland(now);
  return rows.map((row) => toStored(row, now, today));
}

/** One agreement and all its versions, or undefined when no such id exists. */
export async function getAgreement(db: SqlClient, id: string, now: Date = new Date()): Promise<AgreementDetail | undefined> {
  const r = await db.query<Row>('SELECT id, version, content, created_at, ended_at FROM sharing_agreement WHERE id = $1 ORDER BY version', [id]);
  if (r.rows.length === 0) return undefined;
  const today = dateInEngland(now);
  const history = r.rows.map((row) => toStored(row, now, today));
  return { current: history[history.length - 1]!, history };
}

/**
 * Ends an agreement from `at` (default now; a future instant schedules the
 * end). Sets ended_at on the newest version only: older versions were
 * superseded, not ended, and their rows record what they said.
 */
export async function endAgreement(db: Database, id: string, at: Date = new Date()): Promise<{ id: string; version: number; endedAt: string }> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(7243004, hashtext($1))', [id]);
    const latest = await latestRow(tx, id);
    if (!latest) throw new AgreementNotFoundError(`no agreement ${id}`);
    if (latest.ended_at) throw new AgreementEndedError(`agreement ${id} already ends at ${iso(latest.ended_at)}; an ended agreement stays ended, and its end is not moved`);
    await tx.query('UPDATE sharing_agreement SET ended_at = $3 WHERE id = $1 AND version = $2', [id, latest.version, at.toISOString()]);
    await publishInvalidation(tx, { kind: 'agreements' });
    return { id, version: latest.version, endedAt: at.toISOString() };
  });
}

/**
 * What the gate's Policy needs: the newest version of every agreement, ended
 * ones included (with endedAt), since whether one is in force depends on the
 * instant of each decision, not of loading.
 */
export async function loadAgreements(db: SqlClient): Promise<SharingAgreement[]> {
  return (await latestRows(db)).map(toAgreement);
}

/**
 * The agreements, loaded once and kept in memory for the gate (every
 * decision needs them; they change a few times a year). invalidate() after
 * a change this process made; maxAgeMs bounds how long a change made
 * elsewhere (the CLI against a shared PostgreSQL, another instance) goes
 * unseen.
 *
 * get(sql) loads through the caller's client when it must: on PGlite's single
 * connection, a load through the pool from inside a transaction would wait
 * for ever.
 */
export class AgreementCache {
  private value: readonly SharingAgreement[] | undefined;
  private loadedAt = 0;
  private inFlight: Promise<readonly SharingAgreement[]> | undefined;
  /** Bumped by invalidate(), so a load that started before it is not kept. */
  private generation = 0;

  constructor(
    private readonly load: (sql?: SqlClient) => Promise<SharingAgreement[]>,
    private readonly maxAgeMs = 60_000,
    private readonly clock: () => number = Date.now
  ) {}

  static forDatabase(db: SqlClient, maxAgeMs?: number): AgreementCache {
    return new AgreementCache((sql) => loadAgreements(sql ?? db), maxAgeMs);
  }

  async get(sql?: SqlClient): Promise<readonly SharingAgreement[]> {
    if (this.value && this.clock() - this.loadedAt < this.maxAgeMs) return this.value;
    // One load at a time: a burst of requests after invalidate() makes one query.
    this.inFlight ??= this.refresh(sql);
    return this.inFlight;
  }

  invalidate(): void {
    this.generation++;
    this.value = undefined;
    this.inFlight = undefined;
  }

  private async refresh(sql: SqlClient | undefined): Promise<readonly SharingAgreement[]> {
    const generation = this.generation;
    const startedAt = this.clock();
    try {
      const loaded = Object.freeze(await this.load(sql));
      if (generation === this.generation) {
        this.value = loaded;
        this.loadedAt = startedAt;
      }
      return loaded;
    } finally {
      if (generation === this.generation) this.inFlight = undefined;
    }
  }
}
