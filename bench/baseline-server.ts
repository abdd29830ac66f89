/**
 * A benchmark baseline: the real gateway (same config, authentication,
 * routes and repository) started with one benchmark-only ServerOptions flag
 * (not reachable from configuration). Run as a child process with the
 * environment src/main.ts takes (DATABASE_URL, AUTH_MODE, PORT, ...); prints
 * "listening on http://..." like src/main.ts.
 */
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/server.ts';
import type { ServerOptions } from '../src/server.ts';

export async function runBaselineServer(label: string, options: ServerOptions): Promise<void> {
  const config = loadConfig();
  if (!config.DATABASE_URL) throw new Error(`the ${label} baseline needs DATABASE_URL (the measured gateway migrates the same schema)`);
  const running = await startServer(config, undefined, options);
  process.stdout.write(`JoinedUp (${label} benchmark baseline) listening on ${running.url}\n`);
  const stop = (): void => {
    running.close().then(
      () => process.exit(0),
      () => process.exit(1)
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
