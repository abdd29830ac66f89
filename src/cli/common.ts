import type { z } from 'zod';
import { loadConfig } from '../config.ts';
import type { Config } from '../config.ts';
import { openDatabase } from '../db/open-database.ts';
import type { Database } from '../db/sql-client.ts';
import { acquireDataDirLock } from '../ops/data-dir-lock.ts';

/**
 * What every command shares: input checking with zod (one clear line per
 * problem, named by option), and opening the database safely.
 */
export class CliError extends Error {
  override name = 'CliError';
  /** 2 for bad input (as for a bad configuration), 1 for anything that went wrong while running. */
  constructor(
    message: string,
    readonly exitCode = 1
  ) {
    super(message);
  }
}

/**
 * Parses input with a zod schema; on failure throws a CliError (exit 2)
 * listing every problem, each named by its command-line option.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, optionNames: Record<string, string> = {}): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const key = issue.path.filter((p) => typeof p === 'string').join('.');
    const option = optionNames[key] ?? (key ? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : '');
    return option ? `${option}: ${issue.message}` : issue.message;
  });
  throw new CliError([...new Set(lines)].join('\n'), 2);
}

/**
 * Runs fn with the configured database. In embedded (PGlite) mode the CLI
 * first takes DATA_DIR's lock, so it refuses while the gateway runs there
 * rather than corrupting the database, and a gateway started meanwhile
 * refuses in turn.
 */
export async function withDatabase<T>(fn: (db: Database, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const lock = config.DATABASE_URL ? undefined : acquireDataDirLock(config.DATA_DIR, 'cli');
  try {
    const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 2 });
    try {
      return await fn(db, config);
    } finally {
      await db.close();
    }
  } finally {
    lock?.release();
  }
}

/** Splits repeated and comma/space-separated option values ("--scope a b,c --scope d") into a flat list. */
export function splitList(values: readonly string[] | string | undefined): string[] {
  const list = values === undefined ? [] : Array.isArray(values) ? values : [values as string];
  return list.flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);
}

/** A plain-text table: left-aligned columns, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
