import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Service {
  name: string;
  /** http://127.0.0.1:port */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Runs a TypeScript entry point in its own Node process (node --import tsx:
 * one process, so --cpu-prof and signals reach the server itself) and waits
 * for it to print "listening on http://...".
 */
export async function startService(name: string, entry: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<Service> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before listening:\n${output}`));
    });
  });
  // Keep draining the pipes so a chatty child never blocks on a full pipe.
  child.stdout!.resume();
  child.stderr!.on('data', (c: Buffer) => process.stderr.write(`[${name}] ${c.toString()}`));
  return { name, url, pid: child.pid!, stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux;
 * undefined elsewhere). Unlike latency, this barely depends on what else the
 * machine is doing, so it is the steadiest cost measure on a shared box.
 */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds all local PostgreSQL processes (backends, WAL writer,
 * checkpointer...) have used so far, from /proc; undefined where /proc is
 * missing. Only meaningful when the database runs on this machine, as in
 * every benchmark here. Backends that have exited count too: the postmaster
 * reaps them, and the kernel adds their CPU to its cutime and cstime.
 */
export function postgresCpuSeconds(): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  let total = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
    } catch {
      // The process exited between readdir and read.
    }
  }
  return total;
}

/** USER_HZ: 100 on every mainstream Linux build. */
const CLOCK_TICKS = 100;
