import { z } from 'zod';

/** ?format= on the access report: the printable page by default, CSV for a spreadsheet. */
export const formatSchema = z.strictObject({ format: z.enum(['html', 'csv']).default('html') });

/**
 * POST /ig/v1/access-report: the NHS number travels in the body (JSON or a
 * form), never the URL. Ten digits, spaces allowed as people write them.
 */
export const accessReportBodySchema = z.strictObject({
  nhsNumber: z
    .string()
    .transform((s) => s.replace(/\s+/g, ''))
    .pipe(z.string().regex(/^\d{10}$/, 'ten digits')),
  format: z.enum(['html', 'csv']).default('html'),
});
