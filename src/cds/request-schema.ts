import { z } from 'zod';
import { PURPOSE_CODES } from '../auth/purposes.ts';
import type { PurposeOfUse } from '../auth/purposes.ts';
import { toJsonPath } from '../council/format/index.ts';
import { httpError } from '../http/outcome.ts';
import type { HttpError } from '../http/outcome.ts';
import { DATA_CLASSES } from '../gate/types.ts';
import type { DataClass } from '../gate/types.ts';

/**
 * The patient-consent-consult request, in the shape of HL7's LEAP Consent
 * Decision Service (CDS Hooks): identifiers as {system, value} arrays, data
 * classes as {system, code}. LEAP also accepts a bare string purpose of use,
 * so we do too. Unknown members are ignored (CDS Hooks clients add fhirServer,
 * fhirAuthorization, prefetch), but what we read is checked strictly: a
 * consent question answered on a misread field is worse than a 400.
 */
export const HOOK = 'patient-consent-consult';
export const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';
export const DATA_CLASS_SYSTEM = 'https://joinedup.org.uk/fhir/CodeSystem/data-class';
export const CONSENT_SCOPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/consentscope';

const text = z.string().min(1).max(200);
const SystemValue = z.object({ system: z.string().min(1).max(200), value: text });
const Purpose = z.enum(PURPOSE_CODES, { message: `a purpose of use code: ${PURPOSE_CODES.join(', ')}` });

const ClassCode = z.object({
  system: z.literal(DATA_CLASS_SYSTEM, { message: `data classes are codes of ${DATA_CLASS_SYSTEM}` }),
  code: z.enum(DATA_CLASSES, { message: `a data class: ${DATA_CLASSES.join(', ')}` }),
});

const Context = z.object({
  patientId: z.array(SystemValue).min(1).max(10),
  // Only privacy consents are ours to decide; treatment, research and advance-directive consents are not.
  scope: z.literal('patient-privacy', { message: 'only scope "patient-privacy" is decided here' }).optional(),
  category: z.array(z.object({ system: z.literal(CONSENT_SCOPE_SYSTEM), code: z.literal('patient-privacy') })).max(5).optional(),
  purposeOfUse: z.union([Purpose, z.array(Purpose).min(1).max(5)]).optional(),
  actor: z.array(SystemValue).min(1).max(10).optional(),
  class: z.array(ClassCode).min(1).max(DATA_CLASSES.length).optional(),
  // LEAP's content is a Bundle to redact; we answer with obligations instead and do not read it.
  content: z.unknown().optional(),
});

export const ConsultRequest = z.object({
  hook: z.literal(HOOK, { message: `hook must be "${HOOK}"` }),
  hookInstance: text,
  context: Context,
});
export type ConsultRequest = z.infer<typeof ConsultRequest>;

/** What the service decides on, once the request is read. */
export interface ConsultQuestion {
  identifiers: { system: string; value: string }[];
  purposes: PurposeOfUse[] | undefined;
  /** The actor's ODS code, when the request names one. */
  actorOds: string | undefined;
  classes: DataClass[];
}

/** Parses the body; a 400 OperationOutcome naming each problem by JSON path otherwise. */
export function readConsultRequest(body: unknown): ConsultQuestion {
  const parsed = ConsultRequest.safeParse(body);
  if (!parsed.success) throw invalid(parsed.error.issues.map((i) => ({ path: toJsonPath(i.path), message: i.message })));
  const c = parsed.data.context;
  let actorOds: string | undefined;
  if (c.actor) {
    const ods = [...new Set(c.actor.filter((a) => a.system === ODS_SYSTEM).map((a) => a.value))];
    if (ods.length !== 1) {
      throw invalid([{ path: '$.context.actor', message: `name exactly one organisation, by an identifier of system ${ODS_SYSTEM}` }]);
    }
    actorOds = ods[0];
  }
  const purposes = c.purposeOfUse === undefined ? undefined : [...new Set(typeof c.purposeOfUse === 'string' ? [c.purposeOfUse] : c.purposeOfUse)];
  const classes = c.class ? [...new Set(c.class.map((k) => k.code))] : [...DATA_CLASSES];
  return { identifiers: c.patientId, purposes, actorOds, classes };
}

function invalid(problems: { path: string; message: string }[]): HttpError {
  const err = httpError(400, 'invalid', problems[0]?.message ?? 'invalid request', [problems[0]?.path ?? '$']);
  // One issue per problem, each with its path, as the FHIR API answers a broken resource.
  err.outcome.issue = problems.map((p) => ({ severity: 'error', code: 'invalid', details: { text: `${p.path}: ${p.message}` }, expression: [p.path] }));
  return err;
}
