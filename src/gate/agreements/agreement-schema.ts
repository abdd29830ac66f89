import { z } from 'zod';
import { OdsCode } from '../../auth/organisation.ts';
import { PURPOSE_CODES } from '../../auth/purposes.ts';
import { toJsonPath } from '../../council/format/index.ts';
import { ART6_CODES, ART9_CODES, COMMON_LAW_CODES, DPA_SCHEDULE1_CODES, STATUTORY_GATEWAY_CODES } from '../lawful-basis-codes.ts';
import { DATA_CLASSES } from '../types.ts';

/**
 * The sharing agreement file an operator loads with `joinedup agreement add`
 * (docs/agreements.md; why not FHIR Contract: docs/decisions/0009). The file
 * carries no version: the store numbers versions, so an operator cannot
 * overwrite history by editing a number. Unknown fields are refused, so a
 * misspelt "dataClass" cannot silently widen or narrow an agreement.
 */
export const AGREEMENT_SCHEMA_ID = 'https://joinedup.org.uk/agreement/v1/schema';

/** Art 9(2) conditions that need a DPA 2018 Schedule 1 condition as well (DPA 2018 s10(1)-(3)). */
const NEEDS_SCHEDULE1 = new Set<string>(['art9-2-g', 'art9-2-h', 'art9-2-i', 'art9-2-j']);

const Slug = z
  .string()
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'an id is lower-case letters and digits in words joined by single hyphens, e.g. "midshire-direct-care"')
  .max(64, 'at most 64 characters')
  .meta({ description: 'Stable id of the agreement (a slug); adding a file with the same id makes a new version', examples: ['midshire-direct-care'] });

const Text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `at most ${max} characters`);

const DateOnly = z.iso.date({ message: 'a date as YYYY-MM-DD' });

/** Lists are sets: a repeated entry is almost certainly a copy-paste slip, so it is refused rather than merged. */
function uniqueList<T extends z.ZodType>(item: T, what: string) {
  return z
    .array(item)
    .min(1, `at least one ${what}`)
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((v, i) => {
        const key = typeof v === 'object' && v !== null && 'ods' in v ? String((v as { ods: unknown }).ods) : String(v);
        if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [i], message: `repeats ${what} "${key}"` });
        seen.add(key);
      });
    });
}

const Party = z
  .strictObject({
    ods: OdsCode.meta({ description: 'ODS organisation code', examples: ['X9C01'] }),
    name: Text(200),
  })
  .meta({ description: 'An organisation signed up to the agreement' });

export const LawfulBasisSchema = z
  .strictObject({
    art6: z.enum(ART6_CODES).meta({ description: 'UK GDPR Art 6 basis' }),
    art9: z.enum(ART9_CODES).meta({ description: 'UK GDPR Art 9(2) condition (special category data: health and social care)' }),
    dpaSchedule1: z.enum(DPA_SCHEDULE1_CODES).optional().meta({ description: 'DPA 2018 Schedule 1 condition; required with art9-2-g, -h, -i and -j' }),
    commonLaw: z.enum(COMMON_LAW_CODES).optional().meta({ description: 'Position under the common law duty of confidentiality' }),
    statutoryGateway: z.enum(STATUTORY_GATEWAY_CODES).optional().meta({ description: 'Statutory gateway relied on, if any' }),
    legalDuty: z.boolean().optional().meta({ description: 'PUBHLTH under a legal duty: the National Data Opt-out does not apply' }),
  })
  .superRefine((b, ctx) => {
    if (NEEDS_SCHEDULE1.has(b.art9) && b.dpaSchedule1 === undefined) {
      ctx.addIssue({ code: 'custom', path: ['dpaSchedule1'], message: `required with ${b.art9}: DPA 2018 s10 needs a Schedule 1 condition for it` });
    }
  });

export const AgreementFile = z
  .strictObject({
    id: Slug,
    title: Text(300),
    parties: uniqueList(Party, 'party').min(2, 'an agreement has at least two parties'),
    purposes: uniqueList(z.enum(PURPOSE_CODES), 'purpose'),
    dataClasses: uniqueList(z.enum(DATA_CLASSES), 'data class'),
    lawfulBasis: LawfulBasisSchema,
    period: z
      .strictObject({
        start: DateOnly.meta({ description: 'First day in force (inclusive, England)' }),
        end: DateOnly.optional().meta({ description: 'Last day in force (inclusive); absent: until ended' }),
      })
      .superRefine((p, ctx) => {
        if (p.end !== undefined && p.end < p.start) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must not be before start' });
      }),
  })
  .meta({ title: 'JoinedUp sharing agreement', description: 'An information sharing agreement (ISA) between organisations, as JoinedUp loads it' });

export type AgreementFile = z.infer<typeof AgreementFile>;

export interface AgreementIssue {
  /** JSONPath of the problem in the file, e.g. "$.parties[1].ods". */
  path: string;
  message: string;
}

export type ParseAgreementResult = { ok: true; agreement: AgreementFile } | { ok: false; issues: AgreementIssue[] };

/** A missing field says "required" rather than zod's "expected string, received undefined". */
function defaultMessage(iss: { code?: string; input?: unknown }): string | undefined {
  if (iss.input === undefined && (iss.code === 'invalid_type' || iss.code === 'invalid_value')) return 'required';
  return undefined;
}

/** Validates a decoded agreement file; every problem comes back with its JSONPath, never a throw. */
export function parseAgreementFile(json: unknown): ParseAgreementResult {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, issues: [{ path: '$', message: 'an agreement is a JSON object' }] };
  }
  const result = AgreementFile.safeParse(json, { error: defaultMessage });
  if (result.success) return { ok: true, agreement: result.data };
  const issues: AgreementIssue[] = [];
  for (const iss of result.error.issues) {
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) issues.push({ path: toJsonPath([...iss.path, key]), message: `unknown field "${key}"` });
    } else {
      issues.push({ path: toJsonPath(iss.path), message: iss.message });
    }
  }
  return { ok: false, issues };
}

let cached: Record<string, unknown> | undefined;

/**
 * The JSON Schema (draft 2020-12) of the agreement file, generated from the
 * zod schema so the two cannot drift. Cross-field rules (end not before
 * start, no repeats, Schedule 1 with Art 9(2)(g)-(j)) are checked only here.
 */
export function agreementJsonSchema(): Record<string, unknown> {
  if (!cached) {
    const generated = z.toJSONSchema(AgreementFile, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    const { $schema, ...rest } = generated;
    cached = { $schema, $id: AGREEMENT_SCHEMA_ID, ...rest };
  }
  return structuredClone(cached);
}
