/**
 * The gate benchmark's baseline: the real gateway (same config, same
 * authentication, same routes and repository) started with
 * ServerOptions.ungatedBaselineForBenchmarks, so its FHIR reads and searches
 * skip the lawful-basis gate and nothing else. Not reachable from
 * configuration: only this entry point sets it.
 *
 * Run as a child process by bench/gate-run.ts, with the environment
 * src/main.ts takes (DATABASE_URL, AUTH_MODE, PORT, ...). Prints
 * "listening on http://..." like src/main.ts.
 */
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/server.ts';

const config = loadConfig();
if (!config.DATABASE_URL) throw new Error('bench/ungated-server.ts needs DATABASE_URL (the gated gateway migrates the same schema)');
const running = await startServer(config, undefined, { ungatedBaselineForBenchmarks: true });
process.stdout.write(`JoinedUp (UNGATED benchmark baseline) listening on ${running.url}\n`);
const stop = (): void => {
  running.close().then(
    () => process.exit(0),
    () => process.exit(1)
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
