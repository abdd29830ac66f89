import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { addAgreementCommands } from './cli/agreement-commands.ts';
import { addAuditCommands } from './cli/audit-commands.ts';
import { addClientCommands } from './cli/client-commands.ts';
import { CliError, parseInput, withDatabase } from './cli/common.ts';
import { addImportCommand } from './cli/import-command.ts';
import { addKeyCommands } from './cli/key-commands.ts';
import { addMapCommand } from './cli/map-command.ts';
import { addOptOutCommands } from './cli/opt-out-commands.ts';
import { addTokenCommand } from './cli/token-command.ts';
import { ConfigError } from './config.ts';
import { MIGRATIONS } from './db/migrations.ts';
import { reindex } from './fhir/repo/reindex.ts';
import { loadBaseSchema } from './fhir/schema.ts';
import { createValidator } from './fhir/validation/validator.ts';
import { DataDirLockedError } from './ops/data-dir-lock.ts';
import { VERSION } from './version.ts';

/**
 * The command line: the same services as the server, for operators. Commands
 * that open the database go through withDatabase, which refuses to touch an
 * embedded database the gateway is running on. Later issues add agreements,
 * imports and audit checks.
 */
const program = new Command('joinedup').version(VERSION).description('JoinedUp social care gateway');

program
  .command('serve')
  .description('start the gateway (same as npm start)')
  .action(async () => {
    await import('./main.ts');
  });

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    const n = await withDatabase(async (db) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migration')).rows[0]?.n ?? 0);
    process.stdout.write(`schema at version ${n} of ${MIGRATIONS.length}\n`);
  });

program
  .command('analyze')
  .description('refresh planner statistics (run after bulk loads into the embedded database)')
  .action(async () => {
    await withDatabase((db) => db.analyze());
    process.stdout.write('statistics refreshed\n');
  });

const FilePath = z.string().min(1);

program
  .command('validate')
  .description('validate a FHIR resource (JSON file) against base R4 and our profiles, storing nothing')
  .argument('<file>', 'path to a JSON resource', (v: string) => {
    const parsed = FilePath.safeParse(v);
    if (!parsed.success) throw new InvalidArgumentError('a file path is required');
    return parsed.data;
  })
  .action((file: string) => {
    let resource: unknown;
    try {
      resource = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      process.stderr.write(`cannot read ${file} as JSON: ${(err as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    loadBaseSchema();
    const issues = createValidator().validate(resource as never);
    for (const i of issues) {
      process.stdout.write(`${i.severity}\t${(i.expression ?? []).join(',')}\t${i.details?.text ?? i.diagnostics ?? ''}\n`);
    }
    const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').length;
    process.stdout.write(errors ? `${errors} error(s)\n` : 'valid\n');
    process.exitCode = errors ? 1 : 0;
  });

addClientCommands(program);
addKeyCommands(program);
addTokenCommand(program);
addMapCommand(program);
addImportCommand(program);
addAuditCommands(program);
addAgreementCommands(program);
addOptOutCommands(program);

program
  .command('reindex')
  .description('rebuild search indexes from stored resources (after an upgrade that changes what is indexed)')
  .option('--type <resourceType>', 'only this resource type')
  .action(async (raw: { type?: string }) => {
    const options = parseInput(z.object({ type: z.string().regex(/^[A-Z][A-Za-z]+$/, 'a FHIR resource type').optional() }), raw);
    const n = await withDatabase((db) => reindex(db, { resourceType: options.type }));
    process.stdout.write(`reindexed ${n} resource(s)\n`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CliError || err instanceof DataDirLockedError || err instanceof ConfigError) {
    process.stderr.write(`joinedup: ${err.message}\n`);
    process.exit(err instanceof CliError ? err.exitCode : err instanceof ConfigError ? 2 : 1);
  }
  // Unexpected: the class and message only (no stack), as the server logs them.
  process.stderr.write(`joinedup: ${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
