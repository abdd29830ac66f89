import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { archiveAuditSegment, DEFAULT_AUDIT_RETENTION_DAYS } from '../audit/archive.ts';
import { verifyArchiveFile } from '../audit/archive-file.ts';
import { verifyAuditChainInDatabase } from '../audit/in-database-verify.ts';
import { verifyAuditChainParallel } from '../audit/parallel-verify.ts';
import { verifyAuditChain } from '../audit/verify.ts';
import type { VerifyResult } from '../audit/verify.ts';
import { archiveAuditEvents } from '../ig/archive-events.ts';
import { CliError, parseInput, withDatabase } from './common.ts';

/** `joinedup audit verify|archive|verify-archive|archive-events`: the audit chain for operators and IG. */
export function addAuditCommands(program: Command): void {
  const audit = program.command('audit').description('check and archive the tamper-evident audit trail');

  audit
    .command('verify')
    .description('recompute the audit hash chain and report the first broken link (exit 1 if broken); prints the head hash to keep')
    .option('--json', 'print the result as JSON')
    .option('--independent', 'recompute every hash here, in JavaScript, instead of inside the database (slower; trusts nothing the database computes)')
    .action(async (opts: { json?: boolean; independent?: boolean }) => {
      const result = await withDatabase((db, config) => {
        // Inside the database by default: no row crosses the wire (ADR 0010).
        if (!opts.independent) return verifyAuditChainInDatabase(db);
        // Independent, on PostgreSQL on every core (worker threads, one shared snapshot); PGlite is one connection.
        return config.DATABASE_URL ? verifyAuditChainParallel(config.DATABASE_URL) : verifyAuditChain(db);
      });
      report(result, opts.json, opts.independent ? 'audit chain (independent check)' : 'audit chain');
    });

  audit
    .command('archive')
    .description('export whole chain segments older than the retention period to NDJSON, then remove them (the chain stays verifiable)')
    .option('--before <iso>', 'archive records before this instant, e.g. 2019-01-01T00:00:00Z')
    .option('--retention-days <days>', `keep this many days (default: AUDIT_RETENTION_DAYS, else ${DEFAULT_AUDIT_RETENTION_DAYS}, 8 years, when --before is not given)`)
    .option('--out <file>', 'the NDJSON file to write (must not exist)')
    .action(async (raw: Record<string, unknown>) => {
      const o = parseInput(ArchiveOptions, raw);
      const r = await withDatabase(async (db, config) => {
        const before = o.before ?? new Date(Date.now() - (o.retentionDays ?? config.AUDIT_RETENTION_DAYS) * 86_400_000);
        return { before, ...(await archiveAuditSegment(db, { before, out: o.out })) };
      });
      if (r.archived === 0) {
        process.stdout.write(`nothing recorded before ${r.before.toISOString()} to archive; ${o.out} not written\n`);
        return;
      }
      process.stdout.write(`archived ${r.archived} record(s) through seq ${r.throughSeq} to ${o.out}; chain now anchored at ${r.hash}\n`);
    });

  audit
    .command('verify-archive')
    .description('re-verify an archive file on its own, without the database')
    .argument('<file>', 'an NDJSON file written by audit archive')
    .action(async (file: string) => {
      let result: VerifyResult;
      try {
        result = await verifyArchiveFile(file);
      } catch (err) {
        throw new CliError(`${file}: ${(err as Error).message}`, 2);
      }
      report(result, false, file);
    });

  audit
    .command('archive-events')
    .description('print an archive file\'s records as FHIR AuditEvents (NDJSON, as the IG API returns them), after verifying it; nothing if it does not verify')
    .argument('<file>', 'an NDJSON file written by audit archive')
    .option('--out <file>', 'write the AuditEvents to this file (must not exist) instead of standard output')
    .action(async (file: string, opts: { out?: string }) => {
      let result: VerifyResult;
      try {
        result = await verifyArchiveFile(file);
      } catch (err) {
        throw new CliError(`${file}: ${(err as Error).message}`, 2);
      }
      if (!result.ok) {
        // Events from an altered file would be read as the record: refuse, and say where it breaks.
        report(result, false, file);
        return;
      }
      const lines = Readable.from(
        (async function* () {
          for await (const event of archiveAuditEvents(file)) yield `${JSON.stringify(event)}\n`;
        })()
      );
      try {
        await pipeline(lines, opts.out ? createWriteStream(opts.out, { flags: 'wx' }) : process.stdout);
      } catch (err) {
        if ((err as { code?: string }).code === 'EEXIST') throw new CliError(`${opts.out} already exists: give a new file`, 2);
        throw err;
      }
      if (opts.out) process.stdout.write(`${result.checked} AuditEvent(s) of a verified archive written to ${opts.out}\n`);
    });
}

const ArchiveOptions = z
  .object({
    before: z.iso
      .datetime({ offset: true, error: 'an ISO 8601 instant, e.g. 2019-01-01T00:00:00Z' })
      .transform((v) => new Date(v))
      .optional(),
    retentionDays: z.coerce.number({ error: 'a whole number of days' }).int('a whole number of days').min(1, 'at least 1').optional(),
    out: z.string({ error: 'required: the NDJSON file to write' }).min(1),
  })
  .refine((o) => o.before === undefined || o.retentionDays === undefined, { message: 'give --before or --retention-days, not both', when: () => true });

function report(r: VerifyResult, json: boolean | undefined, what: string): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } else if (r.ok) {
    const from = r.anchor ? `from the archive anchor at seq ${r.anchor.throughSeq}` : 'from genesis';
    process.stdout.write(`${what} ok: ${r.checked} record(s) checked ${from}\nhead seq ${r.head.seq ?? '-'} hash ${r.head.hash}\n`);
  } else {
    process.stdout.write(`${what} BROKEN at seq ${r.firstBroken?.seq}: ${r.firstBroken?.reason}\n${r.checked} record(s) before it verified\n`);
  }
  process.exitCode = r.ok ? 0 : 1;
}
