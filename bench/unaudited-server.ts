/**
 * The audit benchmark's baseline: the real gateway (same config, same
 * authentication, same routes, gate and repository) started with
 * ServerOptions.unauditedBaselineForBenchmarks, so its FHIR exchanges leave
 * no audit record and nothing else changes (the lawful-basis gate stays on).
 * Not reachable from configuration: only this entry point sets it.
 *
 * Run as a child process by bench/audit-run.ts, with the environment
 * src/main.ts takes (DATABASE_URL, AUTH_MODE, PORT, ...). Prints
 * "listening on http://..." like src/main.ts.
 */
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/server.ts';

const config = loadConfig();
if (!config.DATABASE_URL) throw new Error('bench/unaudited-server.ts needs DATABASE_URL (the audited gateway migrates the same schema)');
const running = await startServer(config, undefined, { unauditedBaselineForBenchmarks: true });
process.stdout.write(`JoinedUp (UNAUDITED benchmark baseline) listening on ${running.url}\n`);
const stop = (): void => {
  running.close().then(
    () => process.exit(0),
    () => process.exit(1)
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
