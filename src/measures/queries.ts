import type { Coding, ServiceRequest, Task } from '@medplum/fhirtypes';
import type { SqlClient } from '../db/sql-client.ts';
import { REQUEST_KIND_SYSTEM } from '../joint-work/codes.ts';

/**
 * The SQL behind the measures, over the stored record: the resource and
 * resource_version tables (labels patient_id and controller) and
 * joint_work_duplicate. What comes back stays in this process; the report
 * carries counts and statistics only. The LIKE filters only narrow the scan
 * to resources that mention our systems; the exact tests follow in SQL
 * (jsonb) or in compute.ts with the joint-work rules' own helpers.
 */

/** One joint work request Task, as its versions tell its story. */
export interface RequestFacts {
  /** The first version stored: who was asked, the kind, when it was made. */
  first: Task;
  firstStored: string;
  /** The first version accepted or rejected: when, which, and the coded reason (never the written one). */
  answeredAt?: string;
  answer?: 'accepted' | 'rejected';
  reason?: Coding;
  /** The last version stored before the cut-off (the period's end, or now). */
  statusAtCut?: string;
  deadlineAtCut?: string;
}

export async function requestFacts(sql: SqlClient, cut: Date): Promise<RequestFacts[]> {
  const r = await sql.query<{ first: string; first_stored: string; answered_at: string | null; answer: string | null; reason: string | null; status_at_cut: string | null; deadline_at_cut: string | null }>(
    `WITH v AS (
       SELECT v.id, v.version_id, v.last_updated, v.content::jsonb AS c
         FROM resource_version v
         JOIN resource cur ON cur.resource_type = v.resource_type AND cur.id = v.id
        WHERE v.resource_type = 'Task' AND NOT v.deleted AND NOT cur.deleted
          AND v.content LIKE $1 AND cur.content::jsonb->>'status' <> 'entered-in-error'
     ),
     first AS (SELECT DISTINCT ON (id) id, c, last_updated FROM v ORDER BY id, version_id),
     answer AS (
       SELECT DISTINCT ON (id) id, last_updated, c->>'status' AS status, c->'statusReason'->'coding'->0 AS reason
         FROM v WHERE c->>'status' IN ('accepted', 'rejected') ORDER BY id, version_id
     ),
     at_cut AS (
       SELECT DISTINCT ON (id) id, c->>'status' AS status, c->'restriction'->'period'->>'end' AS deadline
         FROM v WHERE last_updated < $2 ORDER BY id, version_id DESC
     )
     SELECT f.c::text AS first, (extract(epoch FROM f.last_updated) * 1000)::bigint::text AS first_stored,
            (extract(epoch FROM a.last_updated) * 1000)::bigint::text AS answered_at, a.status AS answer, a.reason::text AS reason,
            t.status AS status_at_cut, t.deadline AS deadline_at_cut
       FROM first f LEFT JOIN answer a ON a.id = f.id LEFT JOIN at_cut t ON t.id = f.id`,
    [`%${REQUEST_KIND_SYSTEM}%`, cut.toISOString()]
  );
  return r.rows.map((x) => ({
    first: JSON.parse(x.first) as Task,
    // Epoch milliseconds from SQL: timestamptz as text depends on the session's time zone and format.
    firstStored: new Date(Number(x.first_stored)).toISOString(),
    ...(x.answered_at ? { answeredAt: new Date(Number(x.answered_at)).toISOString() } : {}),
    ...(x.answer ? { answer: x.answer as 'accepted' | 'rejected' } : {}),
    ...(x.reason ? { reason: JSON.parse(x.reason) as Coding } : {}),
    ...(x.status_at_cut ? { statusAtCut: x.status_at_cut } : {}),
    ...(x.deadline_at_cut ? { deadlineAtCut: x.deadline_at_cut } : {}),
  }));
}

/** Duplicates noticed in [from, to) that the organisation started or whose earlier assessment it holds (all when none given). */
export async function duplicateCounts(sql: SqlClient, from: Date, to: Date, ods: string | undefined): Promise<{ noticed: number; disclosed: number }> {
  const r = await sql.query<{ noticed: string; disclosed: string }>(
    `SELECT count(*) AS noticed, count(*) FILTER (WHERE d.disclosed) AS disclosed
       FROM joint_work_duplicate d
       LEFT JOIN resource e ON e.resource_type = 'Task' AND e.id = d.existing_task_id
      WHERE d.noticed_at >= $1 AND d.noticed_at < $2
        AND ($3::text IS NULL OR d.organisation = $3 OR e.controller = $3)`,
    [from.toISOString(), to.toISOString(), ods ?? null]
  );
  return { noticed: Number(r.rows[0]?.noticed ?? 0), disclosed: Number(r.rows[0]?.disclosed ?? 0) };
}

export interface Referral {
  request: ServiceRequest;
  patientId: string;
  controller: string | null;
}

/** ServiceRequests that may be discharge referrals (our request kinds, or a council contact's route of access). */
export async function referralCandidates(sql: SqlClient): Promise<Referral[]> {
  const r = await sql.query<{ content: string; patient_id: string; controller: string | null }>(
    `SELECT content, patient_id, controller FROM resource
      WHERE resource_type = 'ServiceRequest' AND NOT deleted AND patient_id IS NOT NULL
        AND (content LIKE $1 OR content LIKE '%cld-route-of-access%')`,
    [`%${REQUEST_KIND_SYSTEM}%`]
  );
  return r.rows.map((x) => ({ request: JSON.parse(x.content) as ServiceRequest, patientId: x.patient_id, controller: x.controller }));
}

export interface ServiceStart {
  patientId: string;
  start: string;
  controller: string | null;
  managing: string | null;
}

/** Service starts (EpisodeOfCare.period.start) of the people who have a referral candidate. */
export async function serviceStarts(sql: SqlClient): Promise<ServiceStart[]> {
  const r = await sql.query<{ patient_id: string; start: string; controller: string | null; managing: string | null }>(
    `SELECT e.patient_id, e.c->'period'->>'start' AS start, e.controller,
            CASE WHEN e.c->'managingOrganization'->'identifier'->>'system' = 'https://fhir.nhs.uk/Id/ods-organization-code'
                 THEN e.c->'managingOrganization'->'identifier'->>'value' END AS managing
       FROM (SELECT patient_id, controller, content::jsonb AS c FROM resource
              WHERE resource_type = 'EpisodeOfCare' AND NOT deleted
                AND patient_id IN (SELECT patient_id FROM resource WHERE resource_type = 'ServiceRequest' AND NOT deleted
                                     AND (content LIKE $1 OR content LIKE '%cld-route-of-access%'))) e
      WHERE e.c->'period'->>'start' IS NOT NULL AND e.c->>'status' <> 'entered-in-error'`,
    [`%${REQUEST_KIND_SYSTEM}%`]
  );
  return r.rows.map((x) => ({ patientId: x.patient_id, start: x.start, controller: x.controller, managing: x.managing }));
}
