import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { ConfigError, loadConfig } from './config.ts';
import { MIGRATIONS } from './db/migrations.ts';
import { openDatabase } from './db/open-database.ts';
import { loadBaseSchema } from './fhir/schema.ts';
import { createValidator } from './fhir/validation/validator.ts';
import { VERSION } from './version.ts';

/**
 * The command line: the same services as the server, for operators. Later
 * issues add client registration, keys, agreements, imports and audit checks.
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
    const config = loadConfig();
    const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
    const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migration');
    process.stdout.write(`schema at version ${r.rows[0]?.n ?? 0} of ${MIGRATIONS.length}\n`);
    await db.close();
  });

program
  .command('analyze')
  .description('refresh planner statistics (run after bulk loads into the embedded database)')
  .action(async () => {
    const config = loadConfig();
    const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
    await db.analyze();
    await db.close();
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

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : `joinedup: ${(err as Error).message}`}\n`);
  process.exit(1);
});
