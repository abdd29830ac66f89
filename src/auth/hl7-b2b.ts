import { z } from 'zod';
import { ODS_URI_PREFIX, OdsCode } from './organisation.ts';
import { HL7_PURPOSE_OF_USE_SYSTEM, PURPOSES, isPurposeOfUse } from './purposes.ts';
import type { PurposeOfUse } from './purposes.ts';
import { isSdsJobRole } from './sds-job-roles.ts';

/**
 * The request context a client asserts for each token: HL7 FAST Security
 * (UDAP) B2B authorization extension, `extensions["hl7-b2b"]` in the client
 * assertion. Members we do not use (organization_name, consent_policy, ...)
 * are allowed and ignored.
 */

/** Purposes whose use must be explained in `justification` (legal-rules.md: they override the usual rules). */
export const JUSTIFICATION_REQUIRED: ReadonlySet<PurposeOfUse> = new Set(['BTG', 'ETREAT', 'safeguarding-adults', 'safeguarding-children']);

/** HL7 v3 ActReason by its OID, as UDAP examples write it. */
const HL7_PURPOSE_OID = 'urn:oid:2.16.840.1.113883.5.8';

const Text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => s.trim().length > 0, 'must not be blank')
    // Control characters have no place in names or ids and would corrupt logs and audit records.
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters');

export const Hl7B2b = z
  .object({
    version: z.literal('1').optional(),
    organization_id: z
      .string()
      .max(ODS_URI_PREFIX.length + 10)
      .refine(
        (s) => s.startsWith(ODS_URI_PREFIX) && OdsCode.safeParse(s.slice(ODS_URI_PREFIX.length)).success,
        `must be an ODS code as ${ODS_URI_PREFIX}<code>`
      ),
    subject_id: Text(200),
    subject_name: Text(200).optional(),
    subject_role: z
      .string()
      .regex(/^R\d{4}$/, 'must be an SDS job role code such as R8000')
      .refine(isSdsJobRole, 'is not an SDS job role code'),
    purpose_of_use: z
      .union([z.string(), z.array(z.string())])
      .transform((v) => (Array.isArray(v) ? v : [v]))
      .refine((v) => v.length === 1, 'must hold exactly one purpose of use')
      .transform((v) => purposeCode(v[0] as string))
      .refine((p): p is PurposeOfUse => p !== undefined, 'is not a purpose of use this gateway knows'),
    justification: Text(1000).optional(),
    consent_reference: z
      .union([z.string(), z.array(z.string()).length(1)])
      .transform((v) => (Array.isArray(v) ? (v[0] as string) : v))
      .pipe(Text(500))
      .optional(),
  })
  .catchall(z.unknown())
  .refine((b) => !(JUSTIFICATION_REQUIRED.has(b.purpose_of_use as PurposeOfUse) && b.justification === undefined), {
    message: 'justification is required for this purpose of use',
    path: ['justification'],
  });

export interface B2bContext {
  ods: string;
  subjectId: string;
  subjectName?: string;
  subjectRole: string;
  purposeOfUse: PurposeOfUse;
  justification?: string;
  consentReference?: string;
}

/**
 * Parses the extension, or says why it is unusable.
 * The description names the member and the rule, never the value sent.
 */
export function parseHl7B2b(value: unknown): { ok: true; context: B2bContext } | { ok: false; description: string } {
  const r = Hl7B2b.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? `hl7-b2b.${issue.path.join('.')}` : 'hl7-b2b';
    return { ok: false, description: `${where}: ${issue?.message ?? 'invalid'}` };
  }
  const b = r.data;
  const context: B2bContext = {
    ods: b.organization_id.slice(ODS_URI_PREFIX.length),
    subjectId: b.subject_id,
    subjectRole: b.subject_role,
    purposeOfUse: b.purpose_of_use as PurposeOfUse,
  };
  if (b.subject_name !== undefined) context.subjectName = b.subject_name;
  if (b.justification !== undefined) context.justification = b.justification;
  if (b.consent_reference !== undefined) context.consentReference = b.consent_reference;
  return { ok: true, context };
}

/** "TREAT", or qualified by its system as "system#TREAT" (UDAP) or "system|TREAT" (FHIR token). */
function purposeCode(text: string): PurposeOfUse | undefined {
  const m = /^(.*)[#|]([^#|]+)$/.exec(text);
  const code = m ? (m[2] as string) : text;
  if (!isPurposeOfUse(code)) return undefined;
  if (!m) return code;
  const system = m[1];
  const expected = PURPOSES[code].system;
  const ok = system === expected || (expected === HL7_PURPOSE_OF_USE_SYSTEM && system === HL7_PURPOSE_OID);
  return ok ? code : undefined;
}
