import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { backends } from '../support/backends.ts';
import { testPatient } from '../support/fixtures.ts';
import { suiteServer } from '../support/test-server.ts';

/**
 * Issue #9: slow clients. A slowloris (headers a byte at a time, never
 * finished), a connection that sends nothing, and a slow upload (a body a
 * byte at a time) each hold a connection; the server must cut them within HEADERS_TIMEOUT_MS and
 * REQUEST_TIMEOUT_MS, and serve everyone else at normal speed meanwhile.
 * Traffic to loopback only.
 */
const HEADERS_TIMEOUT_MS = 1_500;
const REQUEST_TIMEOUT_MS = 3_000;
// Node checks its timers every connectionsCheckingInterval (the server keeps that at a quarter of the headers timeout) plus scheduling on a busy machine.
const SLACK_MS = 1_500;
const SLOWLORIS = 20;
const SLOW_UPLOADS = 5;
const IDLE = 10;

interface SlowResult {
  /** ms from connecting until the server closed the connection */
  closedAfter: number;
  /** what the server sent before closing, if anything */
  answer: string;
}

/** Sends `head` at once, then `drip` one byte every `everyMs`, until the server closes the connection (or we do, after `giveUpMs`). */
function slowClient(port: number, head: string, drip: string, everyMs: number, giveUpMs: number): Promise<SlowResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    let answer = '';
    let sent = 0;
    const socket: Socket = connect(port, '127.0.0.1', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (socket.destroyed || socket.writableEnded) return;
        if (Date.now() - started > giveUpMs) {
          // Kept open far too long: closing it ourselves ends the wait, and closedAfter shows the failure.
          socket.destroy();
          return;
        }
        socket.write(drip[sent++ % drip.length] ?? 'a');
      }, everyMs);
    });
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    // A write racing the server's close may fail with EPIPE/ECONNRESET: the close is what we wait for.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ closedAfter: Date.now() - started, answer });
    });
  });
}

/** Connects and sends nothing at all: the cheapest way to hold a connection. */
function idleClient(port: number): Promise<SlowResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    let answer = '';
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ closedAfter: Date.now() - started, answer }));
    setTimeout(() => socket.destroy(), 15_000).unref();
  });
}

const backend = backends()[0];
if (!backend) throw new Error('no test backend');

describe(`Slow clients (${backend.name})`, () => {
  const s = suiteServer(backend, { HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });

  test(
    'slowloris headers, idle connections and slow uploads are cut within the configured timeouts while other clients are served at normal latency',
    async () => {
      const patient = await s.request('POST', 'Patient', testPatient(77));
      expect(patient.status).toBe(201);
      const port = Number(new URL(s.url).port);
      const read = async (): Promise<{ status: number; ms: number }> => {
        const t = Date.now();
        const r = await s.request('GET', `Patient/${patient.body.id}`);
        return { status: r.status, ms: Date.now() - t };
      };

      // Normal latency first, on a quiet server.
      const baseline: number[] = [];
      for (let i = 0; i < 20; i++) baseline.push((await read()).ms);

      const slowloris = Array.from({ length: SLOWLORIS }, () =>
        slowClient(port, `GET /fhir/Patient/${patient.body.id} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `, 'abcdefghij', 100, 15_000)
      );
      const idle = Array.from({ length: IDLE }, () => idleClient(port));
      const body = JSON.stringify(testPatient(78));
      const uploads = Array.from({ length: SLOW_UPLOADS }, () =>
        slowClient(
          port,
          `POST /fhir/Patient HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${s.token}\r\nContent-Type: application/fhir+json\r\nContent-Length: ${body.length}\r\n\r\n`,
          body,
          100,
          15_000
        )
      );

      // Everyone else, while the slow connections are open.
      const during: Array<{ status: number; ms: number }> = [];
      const slowDone = Promise.all([...slowloris, ...uploads, ...idle]);
      let finished = false;
      void slowDone.finally(() => (finished = true));
      while (!finished) {
        during.push(await read());
        await sleep(25);
      }
      const [headerResults, uploadResults] = [[...(await Promise.all(slowloris)), ...(await Promise.all(idle))], await Promise.all(uploads)];

      for (const r of headerResults) {
        expect(r.closedAfter).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
        expect(r.closedAfter).toBeLessThanOrEqual(HEADERS_TIMEOUT_MS + SLACK_MS);
        // Node answers 408 as it closes; never anything the API would answer.
        expect(r.answer === '' || r.answer.startsWith('HTTP/1.1 408')).toBe(true);
      }
      for (const r of uploadResults) {
        expect(r.closedAfter).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
        expect(r.closedAfter).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS + SLACK_MS);
        expect(r.answer === '' || r.answer.startsWith('HTTP/1.1 408')).toBe(true);
      }
      // The slow upload never finished, so nothing of it was stored.
      const stored = await s.request('GET', `Patient?identifier=${encodeURIComponent(`https://fhir.nhs.uk/Id/nhs-number|${testPatient(78).identifier?.[0]?.value}`)}`);
      expect(stored.body.total ?? stored.body.entry?.length ?? 0).toBe(0);

      expect(during.length).toBeGreaterThan(20);
      expect(during.every((r) => r.status === 200)).toBe(true);
      const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
      // Normal latency: the slow connections cost the others (almost) nothing; far below the timeouts they wait out.
      expect(median(during.map((r) => r.ms))).toBeLessThanOrEqual(Math.max(100, 5 * median(baseline)));
      expect(Math.max(...during.map((r) => r.ms))).toBeLessThan(HEADERS_TIMEOUT_MS);
    },
    60_000
  );
});
