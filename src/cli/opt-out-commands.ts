import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { isValidNhsNumber } from '../fhir/validation/nhs-number.ts';
import { OptOutFileError, optOutStatus, parseOptOutFile, upsertOptOuts } from '../gate/opt-out/opt-out-store.ts';
import type { OptOutEntry } from '../gate/opt-out/opt-out-store.ts';
import { CliError, withDatabase } from './common.ts';

/**
 * `joinedup opt-out load|status`: National Data Opt-out status, loaded by the
 * operator. Nothing here ever prints an NHS number: errors name line numbers
 * and `status` answers only opted-out or not (terminal scrollback and support
 * tickets are not places for personal data).
 */
export function addOptOutCommands(program: Command): void {
  const optOut = program.command('opt-out').description('National Data Opt-out status (applies to planning and research, never to direct care)');

  optOut
    .command('load')
    .description('load a file of "nhsNumber,opted-out" / "nhsNumber,not-opted-out" lines; any bad line refuses the whole file')
    .argument('<file>', 'the file (header line optional, blank lines ignored)')
    .action(async (file: string) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 2);
      }
      // Checked before the database is opened, so a bad file takes no lock and changes nothing.
      let entries: OptOutEntry[];
      try {
        entries = parseOptOutFile(text);
      } catch (err) {
        if (err instanceof OptOutFileError) throw new CliError(`${file}: ${err.message}`, 2);
        throw err;
      }
      await withDatabase((db) => upsertOptOuts(db, entries));
      const optedOut = entries.filter((e) => e.optedOut).length;
      process.stdout.write(`loaded ${entries.length} NHS number(s): ${optedOut} opted out, ${entries.length - optedOut} not opted out\n`);
    });

  optOut
    .command('status')
    .description('whether one NHS number is recorded as opted out')
    .argument('<nhsNumber>', '10 digits')
    .action(async (raw: string) => {
      const nhs = raw.replace(/\s+/g, '');
      if (!isValidNhsNumber(nhs)) throw new CliError('<nhsNumber>: not a valid NHS number (10 digits with a valid modulus 11 check digit)', 2);
      const found = await withDatabase((db) => optOutStatus(db, nhs));
      process.stdout.write(found ? `${found.status}\n` : 'not-opted-out (no status loaded for this number)\n');
    });
}
