import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One process per embedded database. PGlite keeps the whole database in one
 * process's memory and writes its files without any locking of its own, so a
 * second process (a CLI command while the gateway runs, or a second gateway)
 * on the same DATA_DIR would corrupt it. A pid file in DATA_DIR makes that a
 * clear refusal instead. PostgreSQL mode needs none of this.
 */
export const LOCK_FILE = 'joinedup.pid';

export type LockHolder = 'gateway' | 'cli';

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
  constructor(
    message: string,
    readonly pid: number,
    readonly holder: LockHolder | 'unknown'
  ) {
    super(message);
  }
}

export interface DataDirLock {
  readonly path: string;
  /** Removes the pid file if it is still ours. Safe to call twice. */
  release(): void;
}

/** Whether this DATA_DIR holds an on-disk PGlite database (memory:// needs no lock). */
export function isLockableDataDir(dataDir: string): boolean {
  return !dataDir.startsWith('memory://');
}

/**
 * Takes DATA_DIR/joinedup.pid for this process, or throws DataDirLockedError
 * naming who holds it. A pid file whose process is gone (a crash, a kill -9)
 * is stale and taken over. The file is released on normal exit.
 */
export function acquireDataDirLock(dataDir: string, holder: LockHolder = 'gateway'): DataDirLock {
  if (!isLockableDataDir(dataDir)) return { path: '', release: () => undefined };
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  const content = `${process.pid}\n${holder}\n`;
  // Two attempts: the second follows removing a stale file.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // O_EXCL: of two processes starting together, exactly one creates the file.
      const fd = openSync(path, 'wx', 0o644);
      try {
        writeSync(fd, content);
      } finally {
        closeSync(fd);
      }
      return lockHandle(path, content);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const current = readHolder(path);
    if (current === undefined) continue; // removed meanwhile: try again
    if (isAlive(current.pid)) {
      throw new DataDirLockedError(lockedMessage(dataDir, current.pid, current.holder, holder), current.pid, current.holder);
    }
    // Stale (or unparsable: a crash between create and write). There is a
    // small window where two processes both find the same stale file; the
    // re-read keeps one of them from deleting a lock the other just took.
    if (readFileSafe(path) === current.raw) removeQuietly(path);
  }
  const current = readHolder(path);
  const pid = current?.pid ?? 0;
  const who = current?.holder ?? 'unknown';
  throw new DataDirLockedError(lockedMessage(dataDir, pid, who, holder), pid, who);
}

function lockHandle(path: string, content: string): DataDirLock {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    // Only our own file: never remove a lock another process took over.
    if (readFileSafe(path) === content) removeQuietly(path);
  };
  process.once('exit', release);
  return { path, release };
}

function lockedMessage(dataDir: string, pid: number, holder: LockHolder | 'unknown', me: LockHolder): string {
  const file = join(dataDir, LOCK_FILE);
  if (holder === 'gateway' && me === 'cli') {
    return `the gateway is running on this DATA_DIR (${dataDir}, pid ${pid}); stop it first, or use PostgreSQL (DATABASE_URL)`;
  }
  const who = holder === 'gateway' ? 'a JoinedUp gateway' : holder === 'cli' ? 'a joinedup command' : 'another process';
  return (
    `${who} (pid ${pid}) is using the embedded database in ${dataDir}; only one process may use it at a time. ` +
    `Wait for it or stop it, or use PostgreSQL (DATABASE_URL). If no such process is running, delete ${file}.`
  );
}

interface Holder {
  pid: number;
  holder: LockHolder | 'unknown';
  raw: string;
}

function readHolder(path: string): Holder | undefined {
  const raw = readFileSafe(path);
  if (raw === undefined) return undefined;
  const [pidText, holderText] = raw.split('\n');
  const parsed = Number(pidText);
  // 0 marks an unparsable file; isAlive treats it as dead.
  const pid = Number.isSafeInteger(parsed) && parsed > 0 ? parsed : 0;
  const holder = holderText === 'gateway' || holderText === 'cli' ? holderText : 'unknown';
  return { pid, holder, raw };
}

/**
 * Signal 0 tests for existence without touching the process. Our own pid
 * counts as dead: in a container the gateway is often pid 1 on every start,
 * so a file left by the previous run names us.
 */
function isAlive(pid: number): boolean {
  // Never signal 0 or negatives: kill(0) addresses our whole process group.
  if (pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user — still a live holder.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readFileSafe(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: someone else cleaned up.
  }
}
