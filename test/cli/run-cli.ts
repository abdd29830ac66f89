import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `joinedup ...` as a separate process, as an operator would: the
 * project's Node with tsx, the environment given and nothing inherited that
 * could point it at another database.
 */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const base = { ...process.env };
  for (const k of ['DATABASE_URL', 'DATA_DIR', 'BASE_URL', 'PORT', 'HOST', 'AUTH_MODE', 'DEMO_DATA']) delete base[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      env: { ...base, LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A fresh empty schema on TEST_DATABASE_URL (the CLI migrates it), dropped by the returned function. */
export async function freshSchemaUrl(url: string): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `cli_${randomBytes(6).toString('hex')}`;
  const admin = async (sql: string): Promise<void> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE SCHEMA ${schema}`);
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema},public`);
  return { url: u.toString(), drop: () => admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) };
}

export interface CliMode {
  name: string;
  env: () => Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>;
}

/** The embedded database in a temp DATA_DIR always; PostgreSQL (a fresh schema) too when TEST_DATABASE_URL is set. */
export function cliModes(): CliMode[] {
  const modes: CliMode[] = [
    {
      name: 'pglite',
      env: async () => {
        const dir = mkdtempSync(join(tmpdir(), 'joinedup-cli-'));
        return { env: { DATA_DIR: join(dir, 'data') }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
      },
    },
  ];
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    modes.push({
      name: 'postgres',
      env: async () => {
        const schema = await freshSchemaUrl(url);
        const dir = mkdtempSync(join(tmpdir(), 'joinedup-cli-'));
        return {
          env: { DATABASE_URL: schema.url, DATA_DIR: join(dir, 'data') },
          cleanup: async () => {
            await schema.drop();
            rmSync(dir, { recursive: true, force: true });
          },
        };
      },
    });
  }
  return modes;
}
