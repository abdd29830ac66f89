import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';

/**
 * A gateway as operators run it: `node --import tsx src/main.ts` in its own
 * process, configured only by the environment, so signals, exit codes and
 * start-up really are the production ones. Nothing is inherited that could
 * point it at another database.
 */
export interface ChildGateway {
  process: ChildProcess;
  /** Where it listens (read from its "JoinedUp listening on" line). */
  url: string;
  /** Everything it printed so far (stdout then stderr, as they came). */
  output(): string;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  exited: Promise<number | string>;
  /** SIGKILL if still running; waits for the exit. */
  kill(): Promise<void>;
}

const CLEARED = ['DATABASE_URL', 'DATA_DIR', 'BASE_URL', 'PORT', 'HOST', 'AUTH_MODE', 'DEMO_DATA', 'LOG_LEVEL', 'LOG_FILE', 'METRICS_PORT'];

// Load from one client is what these tests make; a test of the limits sets them itself.
const NO_RATE_LIMITS = { RATE_LIMIT_PER_CLIENT: '0', RATE_LIMIT_TOKEN_PER_IP: '0' };

let started = 0;

/** Like the in-process test servers: a log file in the run's log directory, scanned for personal data at the end. */
function logSettings(): Record<string, string> {
  const dir = inject('joinedupTestLogDir');
  if (!dir) return { LOG_LEVEL: 'warn' };
  const name = `child-${process.pid}-${++started}`;
  writeFileSync(join(dir, `${name}.started`), '');
  return { LOG_LEVEL: 'debug', LOG_FILE: join(dir, `${name}.ndjson`) };
}

export async function startChildGateway(env: Record<string, string>, options: { startTimeoutMs?: number } = {}): Promise<ChildGateway> {
  const base = { ...process.env };
  for (const k of CLEARED) delete base[k];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...base, PORT: '0', HOST: '127.0.0.1', ...NO_RATE_LIMITS, ...logSettings(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start within ${options.startTimeoutMs ?? 60_000} ms:\n${out}`)), options.startTimeoutMs ?? 60_000);
    const look = (): void => {
      const m = /JoinedUp listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited (${code}) before listening:\n${out}`));
    });
  });
  return {
    process: child,
    url,
    output: () => out,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
