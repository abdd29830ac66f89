import { demoWanted, seedDemo } from './auth/demo-seed.ts';
import { ConfigError, loadConfig } from './config.ts';
import { igOidcSettings } from './ig-web/oidc-config.ts';
import { DataDirLockedError, acquireDataDirLock } from './ops/data-dir-lock.ts';
import { startServer } from './server.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
    // Settings that are only valid together (single sign-on for /ig): checked before anything is opened.
    igOidcSettings(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // The embedded database belongs to one process: refuse clearly rather than
  // let a second gateway or a CLI command corrupt it.
  let lock;
  try {
    lock = config.DATABASE_URL ? undefined : acquireDataDirLock(config.DATA_DIR, 'gateway');
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`JoinedUp cannot start: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const running = await startServer(config);
  const storage = config.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.DATA_DIR} (laptops and pilots only)`;
  running.logger.info({ url: running.url, fhirBase: `${running.baseUrl}/fhir`, storage, ...(running.metricsUrl ? { metrics: running.metricsUrl } : {}) }, 'JoinedUp listening');
  process.stdout.write(`JoinedUp listening on ${running.url} (FHIR base ${running.baseUrl}/fhir, storage: ${storage})\n`);
  if (config.AUTH_MODE === 'open-development') {
    // Said in the log, on the terminal and in the CapabilityStatement: nobody
    // should be able to run this mode without noticing.
    const warning = 'OPEN DEVELOPMENT MODE (AUTH_MODE=open-development): the API has NO AUTHENTICATION. Never load real personal data.';
    running.logger.warn(warning);
    process.stderr.write(`\n${'!'.repeat(warning.length)}\n${warning}\n${'!'.repeat(warning.length)}\n\n`);
  } else {
    process.stdout.write(`SMART Backend Services: token endpoint ${running.baseUrl}/auth/token\n`);
  }
  // Here and not in startServer: tests and embedders start servers on
  // databases of their own and must never get demo clients.
  if (demoWanted(config.DEMO_DATA, running.db.kind)) {
    await seedDemo(running.db, {
      dataDir: config.DATA_DIR,
      baseUrl: running.baseUrl,
      logger: running.logger,
      print: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    });
  }
  const stop = (): void => {
    running.logger.info('shutting down: finishing requests in flight');
    running.close().then(
      () => {
        lock?.release();
        process.exit(0);
      },
      () => process.exit(1)
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`JoinedUp failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
