import { z } from 'zod';
import { PURPOSE_CODES } from '../auth/purposes.ts';
import { ART6 } from '../gate/lawful-basis-codes.ts';
import { httpError } from '../http/outcome.ts';

/**
 * The IG search parameters, checked at the boundary. Unknown parameters are
 * refused rather than ignored: an IG lead who mistypes "organisation" must
 * not get every organisation's records back as if filtered.
 */
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$/;
// Checked in full here, before any answer starts: a CSV export has sent its status by the time it queries.
const dateParam = z
  .string()
  .regex(DATE, 'a date (YYYY-MM-DD) or a dateTime with a time zone')
  .refine((v) => isRealDate(v), 'not a real date');

export const FILTER_SHAPE = {
  patient: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/, 'a Patient id').optional(),
  organisation: z.string().regex(/^[A-Za-z0-9]{3,12}$/, 'an ODS code').transform((s) => s.toUpperCase()).optional(),
  user: z.string().min(1).max(128).optional(),
  from: dateParam.optional(),
  to: dateParam.optional(),
  outcome: z.enum(['permit', 'deny', 'permit-withheld', 'error']).optional(),
  purpose: z.enum(PURPOSE_CODES).optional(),
  'lawful-basis': z.enum(Object.keys(ART6) as [keyof typeof ART6, ...(keyof typeof ART6)[]]).optional(),
  override: z.enum(['break-glass', 'safeguarding']).optional(),
  review: z.enum(['pending', 'reviewed']).optional(),
};

const searchSchema = z.strictObject({
  ...FILTER_SHAPE,
  _count: z.coerce.number().int().min(1).max(1000).default(50),
  _cursor: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
});

export type AuditSearch = z.output<typeof searchSchema>;
export type AuditFilters = Omit<AuditSearch, '_count' | '_cursor'>;

export function parseAuditSearch(query: unknown): AuditSearch {
  return parseParams(searchSchema, query);
}

/** The same filters for the CSV export, which pages by itself. */
export function parseAuditFilters(query: unknown): AuditFilters {
  return parseParams(z.strictObject(FILTER_SHAPE), query);
}

/** zod at the boundary; the first problem answers 400 with the parameter's name as expression. */
export function parseParams<T extends z.ZodType>(schema: T, query: unknown): z.output<T> {
  const r = schema.safeParse(query);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const name = issue.keys[0] ?? '';
    throw httpError(400, 'not-supported', `Unknown parameter "${name}"`, [name]);
  }
  const name = String(issue.path[0] ?? '');
  // The value is not echoed: it could be anything a caller typed, including personal data.
  throw httpError(400, 'value', `Parameter "${name}" is not valid: ${issue.message}`, [name]);
}

/**
 * [from, to) as instants. A bare date in "to" means up to the end of that
 * day, which is what "to 30 June" means to a person.
 */
export function dateRange(f: Pick<AuditFilters, 'from' | 'to'>): { from?: string; to?: string } {
  const out: { from?: string; to?: string } = {};
  if (f.from) out.from = f.from.length === 10 ? `${f.from}T00:00:00Z` : f.from;
  if (f.to) {
    if (f.to.length === 10) {
      const d = new Date(`${f.to}T00:00:00Z`);
      d.setUTCDate(d.getUTCDate() + 1);
      out.to = d.toISOString();
    } else out.to = f.to;
  }
  return out;
}

/** Date.parse accepts 31 February (it rolls over); PostgreSQL would refuse it with a 500, so check the calendar. */
function isRealDate(v: string): boolean {
  const [y, m, d] = v.slice(0, 10).split('-').map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  const time = v.length > 10 ? /T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(v) : null;
  const timeOk = !time || (Number(time[1]) < 24 && Number(time[2]) < 60 && Number(time[3] ?? 0) < 60);
  return day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d && timeOk && !Number.isNaN(Date.parse(v));
}
