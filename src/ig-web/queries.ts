import type { PurposeOfUse } from '../auth/purposes.ts';
import { consult } from '../cds/consult.ts';
import type { ClassVerdict } from '../cds/consult.ts';
import { organisationKind } from '../cds/lookups.ts';
import type { SqlClient } from '../db/sql-client.ts';
import type { GateServices } from '../gate/enforce/gate-services.ts';
import type { DataClass, Requester } from '../gate/types.ts';
import { IS_REVIEWED } from '../ig/audit-query.ts';
import { patientIdsByNhsNumber } from '../ig/access-report.ts';

/** The overview's counts: aggregates only (codes and organisation ODS codes), no person in them. */
export interface Overview {
  since: Date;
  total: number;
  byOutcome: Count[];
  byLawfulBasis: Count[];
  byPurpose: Count[];
  byOrganisation: Count[];
  pendingOverrides: number;
  /** One entry per UTC day of the period, oldest first, days without exchanges included. */
  byDay: DayCount[];
}

export interface DayCount {
  /** YYYY-MM-DD (UTC). */
  day: string;
  total: number;
  /** Refused by the gate (outcome deny). */
  denied: number;
}

export interface Count {
  key: string | null;
  n: number;
}

const OVERVIEW_DAYS = 30;

export async function loadOverview(sql: SqlClient, now: Date): Promise<Overview> {
  // From midnight UTC, so the first day of the series is a whole day.
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const since = new Date(today - (OVERVIEW_DAYS - 1) * 86_400_000);
  // One column at a time over the (recorded) index's range; each is a small GROUP BY.
  const by = async (column: 'outcome' | 'lawful_basis' | 'purpose' | 'org_ods'): Promise<Count[]> => {
    const r = await sql.query<{ key: string | null; n: number | string }>(
      `SELECT a.${column} AS key, count(*) AS n FROM audit_event a WHERE a.recorded >= $1::timestamptz GROUP BY a.${column} ORDER BY count(*) DESC, a.${column} LIMIT 50`,
      [since.toISOString()]
    );
    return r.rows.map((x) => ({ key: x.key, n: Number(x.n) }));
  };
  const byOutcome = await by('outcome');
  const pending = await sql.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM audit_event a WHERE a.review_state = 'pending' AND a.override IS NOT NULL AND NOT ${IS_REVIEWED('a')}`
  );
  return {
    since,
    total: byOutcome.reduce((t, c) => t + c.n, 0),
    byOutcome,
    byLawfulBasis: await by('lawful_basis'),
    byPurpose: await by('purpose'),
    byOrganisation: await by('org_ods'),
    pendingOverrides: Number(pending.rows[0]?.n ?? 0),
    byDay: await byDay(sql, since),
  };
}

async function byDay(sql: SqlClient, since: Date): Promise<DayCount[]> {
  const r = await sql.query<{ day: string; total: number | string; denied: number | string }>(
    `SELECT to_char(a.recorded AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS total, count(*) FILTER (WHERE a.outcome = 'deny') AS denied
       FROM audit_event a WHERE a.recorded >= $1::timestamptz GROUP BY 1`,
    [since.toISOString()]
  );
  const found = new Map(r.rows.map((x) => [x.day, { total: Number(x.total), denied: Number(x.denied) }]));
  return Array.from({ length: OVERVIEW_DAYS }, (_, i) => {
    const day = new Date(since.getTime() + i * 86_400_000).toISOString().slice(0, 10);
    return { day, ...(found.get(day) ?? { total: 0, denied: 0 }) };
  });
}

export interface WhatIfQuestion {
  actorOds: string;
  purpose: PurposeOfUse;
  nhsNumber: string;
  dataClass: DataClass;
  role: string;
}

export type WhatIfAnswer = { kind: 'no-consent'; reason: 'unknown-person' | 'no-records' } | { kind: 'decided'; verdict: ClassVerdict; actorKind: string };

/**
 * The gate's answer to "what if this organisation asked for this class of
 * this person's record, for this purpose": the same pure engine, facts and
 * policy the FHIR API enforces with (via the CDS consult logic), asked as a
 * read. Nothing is opened or changed: no break-glass window, no record.
 */
export async function whatIf(sql: SqlClient, gate: GateServices, q: WhatIfQuestion): Promise<WhatIfAnswer> {
  const patientIds = await patientIdsByNhsNumber(sql, q.nhsNumber);
  const facts = await gate.facts.get(sql, patientIds);
  const people = patientIds.flatMap((id) => facts.get(id) ?? []);
  const kind = await organisationKind(sql, q.actorOds);
  const requester: Requester = { clientId: 'ig-web-what-if', ods: q.actorOds, kind, userId: 'ig-web-what-if', role: q.role, purpose: q.purpose };
  const result = consult({ people, requesters: [requester], classes: [q.dataClass], policy: await gate.policy(sql), now: gate.now() });
  if (result.kind === 'no-consent') return result;
  return { kind: 'decided', verdict: result.classes[0]!, actorKind: kind };
}
