import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { agreementJsonSchema, parseAgreementFile } from '../gate/agreements/agreement-schema.ts';
import { AgreementEndedError, AgreementNotFoundError, addAgreement, endAgreement, getAgreement, listAgreements } from '../gate/agreements/agreement-store.ts';
import type { StoredAgreement } from '../gate/agreements/agreement-store.ts';
import { CliError, parseInput, table, withDatabase } from './common.ts';

/**
 * `joinedup agreement add|list|show|end|schema`: sharing agreements for
 * operators (docs/agreements.md). Running gateways are notified when a
 * change commits and reload at once; one that missed the notification picks
 * the change up within GATE_AGREEMENTS_TTL_MS.
 */
export function addAgreementCommands(program: Command): void {
  const agreement = program.command('agreement').description('manage information sharing agreements (parties, purposes, data classes, lawful basis, period)');

  agreement
    .command('add')
    .description('add an agreement from a JSON file; a file with an existing id becomes its next version')
    .argument('<file>', 'agreement JSON file (docs/agreements.md; examples in docs/examples/agreements)')
    .action(async (file: string) => {
      // Validated before the database is opened: a bad file never waits for (or takes) the data dir lock.
      const input = readAgreementFile(file);
      const result = await withDatabase(async (db) => {
        try {
          return await addAgreement(db, input);
        } catch (err) {
          if (err instanceof AgreementEndedError) throw new CliError(err.message);
          throw err;
        }
      });
      process.stdout.write(
        result.created
          ? `added ${result.id} version ${result.version}\n`
          : `${result.id} version ${result.version} already holds this content; nothing changed\n`
      );
    });

  agreement
    .command('list')
    .description('list agreements (newest version of each) and whether each is in force')
    .option('--json', 'print JSON instead of a table')
    .option('--at <instant>', 'status at this instant instead of now (ISO 8601, e.g. 2027-04-01T00:00:00Z)')
    .action(async (opts: { json?: boolean; at?: string }) => {
      const at = parseAt(opts.at);
      const list = await withDatabase((db) => listAgreements(db, at));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(list.map(summary), null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        process.stdout.write('no agreements\n');
        return;
      }
      process.stdout.write(
        table(
          ['ID', 'VERSION', 'STATUS', 'PERIOD', 'PARTIES', 'PURPOSES', 'DATA CLASSES'],
          list.map((s) => {
            const a = s.agreement;
            return [a.id, String(a.version), s.status, `${a.period.start}..${a.period.end ?? ''}`, a.parties.map((p) => p.ods).join(' '), a.purposes.join(' '), a.dataClasses.join(' ')];
          })
        )
      );
    });

  agreement
    .command('show')
    .description('show an agreement as JSON: the current version, its status and every version')
    .argument('<id>', 'agreement id')
    .action(async (raw: string) => {
      const id = parseInput(AgreementId, raw, { '': '<id>' });
      const detail = await withDatabase((db) => getAgreement(db, id));
      if (!detail) throw new CliError(`no agreement ${id}`);
      const out = {
        ...summary(detail.current),
        agreement: detail.current.agreement,
        versions: detail.history.map((h) => ({ version: h.agreement.version, createdAt: h.createdAt, ...(h.agreement.endedAt ? { endedAt: h.agreement.endedAt } : {}) })),
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });

  agreement
    .command('end')
    .description('end an agreement: from then on it permits nothing (ending is final)')
    .argument('<id>', 'agreement id')
    .option('--at <instant>', 'when it ends (ISO 8601 with time zone); default now')
    .action(async (raw: string, opts: { at?: string }) => {
      const id = parseInput(AgreementId, raw, { '': '<id>' });
      const at = parseAt(opts.at);
      const ended = await withDatabase(async (db) => {
        try {
          return await endAgreement(db, id, at);
        } catch (err) {
          if (err instanceof AgreementNotFoundError || err instanceof AgreementEndedError) throw new CliError(err.message);
          throw err;
        }
      });
      process.stdout.write(`${ended.id} version ${ended.version} ends at ${ended.endedAt}\n`);
    });

  agreement
    .command('schema')
    .description('print the JSON Schema of the agreement file')
    .action(() => {
      process.stdout.write(`${JSON.stringify(agreementJsonSchema(), null, 2)}\n`);
    });
}

const AgreementId = z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'an agreement id is lower-case letters and digits joined by hyphens').max(64);

const Instant = z.iso.datetime({ offset: true, message: 'an instant with time zone, e.g. 2027-04-01T00:00:00Z' });

function parseAt(at: string | undefined): Date {
  if (at === undefined) return new Date();
  return new Date(parseInput(z.object({ at: Instant }), { at }).at);
}

/** Reads and validates the file; every problem is reported with its JSONPath (exit 2). */
function readAgreementFile(file: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${file} as JSON (${code ?? (err as Error).message})`, 2);
  }
  const parsed = parseAgreementFile(json);
  if (!parsed.ok) throw new CliError(`${file} is not a valid agreement:\n${parsed.issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`, 2);
  return parsed.agreement;
}

function summary(s: StoredAgreement) {
  const a = s.agreement;
  return {
    id: a.id,
    version: a.version,
    title: a.title,
    status: s.status,
    period: a.period,
    ...(a.endedAt ? { endedAt: a.endedAt } : {}),
    parties: a.parties,
    purposes: a.purposes,
    dataClasses: a.dataClasses,
    lawfulBasis: a.lawfulBasis,
  };
}
