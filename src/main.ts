import { ConfigError, loadConfig } from './config.ts';
import { startServer } from './server.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const running = await startServer(config);
  const storage = config.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.DATA_DIR} (laptops and pilots only)`;
  running.logger.info({ url: running.url, fhirBase: `${running.baseUrl}/fhir`, storage }, 'JoinedUp listening');
  if (config.AUTH_MODE === 'open-development') {
    running.logger.warn('OPEN DEVELOPMENT MODE: the API has no authentication. Never load real personal data.');
  }
  process.stdout.write(`JoinedUp listening on ${running.url} (FHIR base ${running.baseUrl}/fhir, storage: ${storage})\n`);
  const stop = (): void => {
    running.logger.info('shutting down: finishing requests in flight');
    running.close().then(
      () => process.exit(0),
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
