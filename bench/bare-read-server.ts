/**
 * The baseline: the least a server can do to answer GET /fhir/Patient/{id}
 * from the same rows — node:http, one pg pool of the same size as the
 * gateway's, a primary-key read, the stored JSON sent back as is. No routing
 * framework, validation, FHIR machinery or error shaping.
 *
 * Run as a child process by bench/run.ts with DATABASE_URL, DB_POOL_SIZE.
 * (bench/baseline-server.ts is something else: the gateway itself, started
 * with one feature off, for the audit and gate benchmarks.)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required');
const pool = new pg.Pool({ connectionString: url, max: Number(process.env.DB_POOL_SIZE ?? 10) });
pool.on('error', () => undefined);

const PATH_RE = /^\/fhir\/Patient\/([A-Za-z0-9\-.]{1,64})$/;

const server = createServer((req, res) => {
  const m = req.method === 'GET' ? PATH_RE.exec(req.url ?? '') : null;
  if (!m) {
    res.writeHead(404).end();
    return;
  }
  pool.query<{ content: string }>("SELECT content FROM resource WHERE resource_type = 'Patient' AND id = $1", [m[1]]).then(
    (r) => {
      const row = r.rows[0];
      if (!row) {
        res.writeHead(404).end();
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/fhir+json; charset=utf-8', 'content-length': Buffer.byteLength(row.content) })
        .end(row.content);
    },
    () => res.writeHead(500).end()
  );
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`baseline listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  pool.end().finally(() => process.exit(0));
});
