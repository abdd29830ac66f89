import type { Parameters } from '@medplum/fhirtypes';
import { z } from 'zod';
import { OdsCode } from '../auth/organisation.ts';
import { httpError } from '../http/outcome.ts';

/**
 * $evaluate-measure's parameters (R4 measure-operation-evaluate-measure):
 * periodStart, periodEnd (dates), reportType (summary only: aggregate, never
 * a person's list), and ours, organization (an ODS code). From the query
 * string on GET; on POST from a Parameters body and/or the query string.
 */
const DATE = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'a date, YYYY-MM-DD');
const Schema = z
  .object({
    periodStart: DATE,
    periodEnd: DATE,
    organization: OdsCode.optional(),
    reportType: z.literal('summary', { message: 'only summary reports are produced (no subject or subject-list: measures never list people)' }).optional(),
  })
  .strict()
  .refine((p) => p.periodStart <= p.periodEnd, { message: 'periodStart must not be after periodEnd', path: ['periodEnd'] })
  .refine((p) => Date.parse(`${p.periodEnd}T00:00:00Z`) - Date.parse(`${p.periodStart}T00:00:00Z`) <= 3660 * 86_400_000, { message: 'a period of at most ten years', path: ['periodEnd'] });

export type EvaluateParams = z.infer<typeof Schema>;

function fromParameters(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) return {};
  const p = body as Parameters;
  if (p.resourceType !== 'Parameters') throw httpError(400, 'invalid', 'POST $evaluate-measure takes a Parameters resource (or no body)', ['Parameters']);
  const out: Record<string, unknown> = {};
  for (const x of p.parameter ?? []) {
    if (!x.name) continue;
    out[x.name] = x.valueDate ?? x.valueString ?? x.valueCode ?? x.valueDateTime ?? x.valueIdentifier?.value ?? null;
  }
  return out;
}

/** Valid parameters, or a 400 naming the parameter (OperationOutcome.issue.expression). */
export function parseEvaluateParams(query: Record<string, unknown>, body: unknown): EvaluateParams {
  const merged: Record<string, unknown> = { ...fromParameters(body) };
  for (const [k, v] of Object.entries(query)) {
    if (k === '_format') continue;
    merged[k] = v;
  }
  const r = Schema.safeParse(merged);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const name = issue?.code === 'unrecognized_keys' ? String(issue.keys[0]) : String(issue?.path[0] ?? 'parameters');
  const text = issue?.code === 'unrecognized_keys' ? `Unknown parameter "${name}" (known: periodStart, periodEnd, organization, reportType)` : `Parameter ${name}: ${issue?.message ?? 'invalid'}`;
  throw httpError(400, issue?.code === 'unrecognized_keys' ? 'not-supported' : 'invalid', text, [name]);
}
