import type { Coding, OperationOutcomeIssue, Task } from '@medplum/fhirtypes';
import type { SqlClient } from '../db/sql-client.ts';
import { CONTACT_EXT, EXISTING_ASSESSMENT_EXT, HL7_TASK_CODE, NOTICE_SYSTEM } from './codes.ts';
import { ownerOf } from './workflow-rules.ts';

/**
 * One assessment, not three (issue #7 item 4; seed 001 "How to avoid
 * unnecessary duplication"; seed 000 "Fewer duplicated assessments"). When a
 * Task of the same kind (a shared Task.code coding, FHIR's generic task-code
 * aside) for the same person is created within the window of another that is
 * still live (not cancelled, rejected, failed or entered in error), the write
 * goes ahead and the writer is told of the earliest such Task it may read
 * (the gate decides, as a read): its reference and who to contact (its
 * owner). A Task it may not read is not mentioned. Each such creation is
 * counted in joint_work_duplicate (disclosed or not) for the measures.
 */

const DEAD = new Set(['cancelled', 'rejected', 'failed', 'entered-in-error']);
const DAY_MS = 86_400_000;

const kindKeys = (task: Task): string[] =>
  (task.code?.coding ?? []).filter((c): c is Coding & { system: string; code: string } => !!c.system && !!c.code && c.system !== HL7_TASK_CODE).map((c) => `${c.system}|${c.code}`);

function startedAt(task: Task, fallback: string | undefined): number {
  const t = Date.parse(task.authoredOn ?? task.executionPeriod?.start ?? fallback ?? '');
  return Number.isNaN(t) ? Date.now() : t;
}

export interface DuplicateCheck {
  /** Reads the person's current Tasks (everything of theirs written so far visible). */
  sql: SqlClient;
  /** Records the duplicate: undone with the Task's record if that is refused later. */
  sqlWriting: SqlClient;
  task: Task & { id: string };
  patientId: string;
  writerOds: string | undefined;
  windowDays: number;
  mayRead(resourceType: string, id: string): Promise<boolean>;
  now: Date;
}

export async function checkDuplicateAssessment(c: DuplicateCheck): Promise<OperationOutcomeIssue[]> {
  const { task } = c;
  if (DEAD.has(task.status) || task.status === 'draft') return [];
  const keys = new Set(kindKeys(task));
  if (!keys.size) return [];
  const rows = await c.sql.query<{ id: string; content: string; last_updated: string }>(
    `SELECT id, content, last_updated::text AS last_updated FROM resource
      WHERE resource_type = 'Task' AND patient_id = $1 AND NOT deleted AND id <> $2`,
    [c.patientId, task.id]
  );
  const mine = startedAt(task, c.now.toISOString());
  const window = c.windowDays * DAY_MS;
  const candidates = rows.rows
    .map((r) => ({ id: r.id, task: JSON.parse(r.content) as Task, at: 0, updated: r.last_updated }))
    .map((x) => ({ ...x, at: startedAt(x.task, x.updated) }))
    .filter((x) => !DEAD.has(x.task.status) && Math.abs(mine - x.at) <= window && kindKeys(x.task).some((k) => keys.has(k)))
    .sort((a, b) => a.at - b.at);
  if (!candidates.length) return [];
  let shown: (typeof candidates)[number] | undefined;
  for (const x of candidates) {
    if (await c.mayRead('Task', x.id)) {
      shown = x;
      break;
    }
  }
  const first = shown ?? candidates[0];
  if (!first) return [];
  const kind = kindKeys(first.task).find((k) => keys.has(k)) ?? '';
  await c.sqlWriting.query(
    'INSERT INTO joint_work_duplicate (organisation, patient_id, task_id, existing_task_id, kind, disclosed) VALUES ($1, $2, $3, $4, $5, $6)',
    [c.writerOds ?? null, c.patientId, task.id, first.id, kind, !!shown]
  );
  if (!shown) return [];
  return [duplicateNotice(shown.id, shown.task, new Date(shown.at))];
}

function duplicateNotice(id: string, existing: Task, at: Date): OperationOutcomeIssue {
  const owner = ownerOf(existing);
  const what = existing.code?.coding?.find((c) => c.system !== HL7_TASK_CODE)?.display ?? existing.code?.text ?? 'this kind';
  const who = owner.practitioner?.display ?? owner.practitioner?.identifier?.value;
  const org = owner.orgDisplay ?? owner.orgOds;
  const contact = who ? `; contact ${who}${org ? ` (${org})` : ''}` : org ? `; contact ${org}` : '';
  const contactRef = existing.owner && !existing.owner.reference?.startsWith('#')
    ? existing.owner
    : owner.practitioner
      ? { ...owner.practitioner, ...(owner.orgDisplay || owner.orgOds ? { display: `${who ?? ''}${org ? ` (${org})` : ''}`.trim() } : {}) }
      : undefined;
  return {
    severity: 'information',
    code: 'informational',
    details: {
      coding: [{ system: NOTICE_SYSTEM, code: 'existing-assessment', display: 'An assessment of this kind for this person already exists' }],
      text: `An assessment of ${what} for this person was started on ${at.toISOString().slice(0, 10)}: Task/${id} (status ${existing.status})${contact}. Consider joining it rather than assessing again.`,
    },
    diagnostics: `Task/${id}`,
    expression: ['Task.code'],
    extension: [
      { url: EXISTING_ASSESSMENT_EXT, valueReference: { reference: `Task/${id}`, type: 'Task' } },
      ...(contactRef ? [{ url: CONTACT_EXT, valueReference: contactRef }] : []),
    ],
  };
}

/** Duplicates noticed, by organisation, in [from, to): the tally behind the "duplicate assessments avoided" measure. */
export async function duplicateTally(sql: SqlClient, from: string, to: string): Promise<{ organisation: string | null; disclosed: number; noticed: number }[]> {
  const r = await sql.query<{ organisation: string | null; disclosed: string; noticed: string }>(
    `SELECT organisation, count(*) FILTER (WHERE disclosed) AS disclosed, count(*) AS noticed
       FROM joint_work_duplicate WHERE noticed_at >= $1 AND noticed_at < $2 GROUP BY organisation ORDER BY organisation`,
    [from, to]
  );
  return r.rows.map((x) => ({ organisation: x.organisation, disclosed: Number(x.disclosed), noticed: Number(x.noticed) }));
}
