import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A PostgreSQL cluster of the test's own, for fault tests that stop, kill
 * and restart the database: never the shared server on 5432. initdb into a
 * fresh temp directory, listening on 127.0.0.1 only at a free port, its unix
 * socket inside that directory, trust authentication, fsync off (a test
 * cluster need not survive a power cut; it must survive `pg_ctl stop -m
 * immediate` without losing a confirmed commit).
 *
 * PostgreSQL refuses to run as root, so as root every server command runs
 * as the `postgres` user through runuser, and the directory is handed to it.
 * Missing binaries are an error, never a skip: CI has them.
 */
export interface PrivatePostgres {
  /** postgresql://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly running: boolean;
  start(): Promise<void>;
  /** fast: sessions are ended cleanly (57P01); immediate: the server quits at once, as in a crash. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stops the server if it runs and removes its directory. Safe to call twice. */
  destroy(): Promise<void>;
  /** The server's log so far (for failure messages). */
  log(): string;
}

const COMMAND_TIMEOUT_MS = 60_000;
const PG_CTL_WAIT_SECONDS = 30;

/** The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, or PG_BIN if set. */
export function postgresBinDir(): string {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv) {
    if (!existsSync(join(fromEnv, 'initdb'))) throw new Error(`PG_BIN=${fromEnv} has no initdb`);
    return fromEnv;
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+(\.\d+)?$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'The fault tests need PostgreSQL server binaries (initdb, pg_ctl) to run a private cluster, and none were found under /usr/lib/postgresql/<version>/bin. ' +
        'Install them (apt-get install -y postgresql) or point PG_BIN at their directory.'
    );
  }
  return join(root, versions[0]!, 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

interface PostgresUser {
  uid: number;
  gid: number;
}

function postgresUser(): PostgresUser {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('Running as root, but there is no postgres user to run the private PostgreSQL cluster as');
  return { uid: Number(uid), gid: Number(gid) };
}

function run(file: string, args: string[], asPostgres: boolean): Promise<string> {
  const [cmd, argv] = asPostgres ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL', env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file.split('/').pop()} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export async function createPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'joinedup-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  if (asRoot) {
    const u = postgresUser();
    chownSync(dir, u.uid, u.gid);
  }
  const port = await freePort();
  let running = false;
  let destroyed = false;

  // Last resort if the test process dies before afterAll: no server outlives it.
  const killOnExit = (): void => {
    if (!running) return;
    try {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // already gone
    }
  };
  process.once('exit', killOnExit);

  try {
    await run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], asRoot);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', killOnExit);
    throw err;
  }

  const serverOptions = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    // fsync off is safe here: a stop, even -m immediate, kills processes, not the
    // OS, whose page cache keeps every write. synchronous_commit stays on: with
    // it off, an immediate stop loses commits already confirmed to clients.
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=60',
    '-c shared_buffers=32MB',
  ].join(' ');

  const pg: PrivatePostgres = {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    get running() {
      return running;
    },
    async start() {
      if (destroyed) throw new Error('private PostgreSQL already destroyed');
      // -w: returns once the server accepts connections (or fails after -t seconds).
      await run(join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-o', serverOptions, '-w', '-t', String(PG_CTL_WAIT_SECONDS), 'start'], asRoot);
      running = true;
    },
    async stop(mode = 'fast') {
      await run(join(bin, 'pg_ctl'), ['-D', data, '-m', mode, '-w', '-t', String(PG_CTL_WAIT_SECONDS), 'stop'], asRoot);
      running = false;
    },
    async restart(mode = 'fast') {
      await pg.stop(mode);
      await pg.start();
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      if (running) await pg.stop('immediate').catch(() => killOnExit());
      running = false;
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
    log() {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
  };
  return pg;
}
