import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Bundle, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { z } from 'zod';
import { OdsCode } from '../auth/organisation.ts';
import { parseCouncilRecord } from '../council/format/index.ts';
import { loadBaseSchema } from '../fhir/schema.ts';
import { MappingError } from '../mapping/errors.ts';
import { DEFAULT_FORMAT, mapRecord } from '../mapping/map-record.ts';
import { CliError, parseInput } from './common.ts';

const MapOptions = z.object({
  council: OdsCode,
  format: z.string().regex(/^[a-z0-9-]+$/, 'a format is a directory name under mappings/').default(DEFAULT_FORMAT),
});

interface LineResult {
  line: number;
  ok: boolean;
  bundle?: Bundle;
  issues?: OperationOutcomeIssue[];
}

/**
 * `joinedup map <file>`: a dry run of the council push. Each record (a JSON
 * file holding one record or an array, or NDJSON) is checked against the
 * format and mapped to FHIR, and the result printed as a transaction Bundle
 * with any problems. Nothing is stored and no database is opened.
 */
export function addMapCommand(program: Command): void {
  program
    .command('map')
    .description('dry run: map council records (JSON or NDJSON file) to FHIR and validate them, storing nothing')
    .argument('<file>', 'a JSON record, a JSON array of records, or NDJSON (one record per line)')
    .requiredOption('--council <ods>', 'the pushing council’s ODS code (in a real push it comes from the access token)')
    .option('--format <name>', 'the source format (a directory under mappings/)', DEFAULT_FORMAT)
    .action((file: string, raw: Record<string, unknown>) => {
      const options = parseInput(MapOptions, raw);
      const records = readRecords(file);
      loadBaseSchema();
      const receivedAt = new Date().toISOString();
      const results: LineResult[] = records.map(({ line, value }) => mapOne(line, value, options.council, options.format, receivedAt));
      for (const r of results) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      }
      const bad = results.filter((r) => !r.ok).length;
      process.stderr.write(`${results.length - bad} record(s) mapped, ${bad} refused\n`);
      process.exitCode = bad ? 1 : 0;
    });
}

function readRecords(file: string): { line: number; value: unknown }[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, 2);
  }
  try {
    const whole = JSON.parse(text) as unknown;
    return (Array.isArray(whole) ? whole : [whole]).map((value, i) => ({ line: i + 1, value }));
  } catch {
    // Not one JSON document: read it as NDJSON, keeping line numbers for the messages.
    return text
      .split('\n')
      .map((l, i) => ({ line: i + 1, text: l.trim() }))
      .filter((l) => l.text !== '')
      .map((l) => {
        try {
          return { line: l.line, value: JSON.parse(l.text) as unknown };
        } catch {
          throw new CliError(`${file}:${l.line}: not valid JSON`, 2);
        }
      });
  }
}

function mapOne(line: number, value: unknown, councilOds: string, format: string, receivedAt: string): LineResult {
  if (format === DEFAULT_FORMAT) {
    const parsed = parseCouncilRecord(value);
    if (!parsed.ok) {
      return {
        line,
        ok: false,
        issues: parsed.issues.map((i) => ({ severity: 'error', code: 'invalid', details: { text: i.message }, expression: [i.path] })),
      };
    }
  }
  const recordType = (value as { recordType?: unknown })?.recordType;
  if ((value as { deleted?: unknown })?.deleted === true) {
    // A tombstone maps to nothing new: a push retires what the record produced before (see docs/council-format.md).
    return { line, ok: true, issues: [{ severity: 'information', code: 'informational', details: { text: 'tombstone: a push would retire the resources this record produced earlier, keeping their history' } }] };
  }
  try {
    const result = mapRecord(value, typeof recordType === 'string' ? recordType : 'person', { councilOds, receivedAt, format });
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [...result.resources, result.provenance].map((resource) => ({
        fullUrl: `${resource.resourceType}/${resource.id}`,
        resource,
        request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` },
      })),
    };
    return { line, ok: true, bundle };
  } catch (err) {
    if (err instanceof MappingError) return { line, ok: false, issues: err.issues };
    throw err;
  }
}
