import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDirLockedError, LOCK_FILE, acquireDataDirLock } from '../../src/ops/data-dir-lock.ts';
import { runCli } from './run-cli.ts';

const root = mkdtempSync(join(tmpdir(), 'joinedup-lock-'));
let n = 0;
const freshDir = (): string => join(root, `d${n++}`);

/** A live process that is not us, to stand in for a running gateway. */
let holder: ChildProcess;
/** The pid of a process that has exited: a stale lock. */
let deadPid: number;

beforeAll(async () => {
  holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
  const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  deadPid = dead.pid!;
  await new Promise((resolve) => dead.once('exit', resolve));
});
afterAll(() => {
  holder.kill();
  rmSync(root, { recursive: true, force: true });
});

function writeLock(dir: string, text: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, LOCK_FILE), text);
}

describe('acquireDataDirLock', () => {
  it('writes our pid and role, and removes the file on release', () => {
    const dir = freshDir();
    const lock = acquireDataDirLock(dir, 'gateway');
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\ngateway\n`);
    lock.release();
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses while a live process holds the lock, naming the gateway for the CLI', () => {
    const dir = freshDir();
    writeLock(dir, `${holder.pid}\ngateway\n`);
    let err: unknown;
    try {
      acquireDataDirLock(dir, 'cli');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect((err as DataDirLockedError).pid).toBe(holder.pid);
    expect((err as Error).message).toContain('the gateway is running on this DATA_DIR');
    expect((err as Error).message).toContain('stop it first, or use PostgreSQL (DATABASE_URL)');
    // A second gateway is told which process to look for, and how to clear a lock left by an unrelated pid.
    expect(() => acquireDataDirLock(dir, 'gateway')).toThrow(new RegExp(`a JoinedUp gateway \\(pid ${holder.pid}\\).*delete .*${LOCK_FILE}`));
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${holder.pid}\ngateway\n`);
  });

  it.each([
    ['a process that has exited', () => `${deadPid}\ngateway\n`],
    ['an unparsable file', () => 'garbage'],
    ['an empty file', () => ''],
    ['our own pid (a container restarted as pid 1)', () => `${process.pid}\ngateway\n`],
  ])('takes over a stale lock: %s', (_label, text) => {
    const dir = freshDir();
    writeLock(dir, text());
    const lock = acquireDataDirLock(dir, 'cli');
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\ncli\n`);
    lock.release();
  });

  it('never removes a lock another process has taken over', () => {
    const dir = freshDir();
    const lock = acquireDataDirLock(dir, 'cli');
    writeLock(dir, `${holder.pid}\ngateway\n`);
    lock.release();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${holder.pid}\ngateway\n`);
  });

  it('needs no lock for an in-memory database', () => {
    expect(() => acquireDataDirLock('memory://', 'cli').release()).not.toThrow();
  });
});

describe('CLI commands on an embedded database the gateway is using', () => {
  it('refuse with a clear message and exit 1, leaving the lock alone', async () => {
    const dir = freshDir();
    writeLock(dir, `${holder.pid}\ngateway\n`);
    for (const args of [['client', 'list'], ['migrate'], ['keys', 'rotate']]) {
      const r = await runCli(args, { DATA_DIR: dir });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toBe(
        `joinedup: the gateway is running on this DATA_DIR (${dir}, pid ${holder.pid}); stop it first, or use PostgreSQL (DATABASE_URL)\n`
      );
    }
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${holder.pid}\ngateway\n`);
    // No database was created behind the gateway's back.
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(false);
  });

  it('run once the holder has gone, and release the lock when done', async () => {
    const dir = freshDir();
    writeLock(dir, `${deadPid}\ngateway\n`);
    const r = await runCli(['client', 'list'], { DATA_DIR: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('no clients registered\n');
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });
});
