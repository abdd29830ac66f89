import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { GatewayKeys, RETIRED_KEY_GRACE_SECONDS } from '../auth/gateway-keys.ts';
import { CLIENT_KEY_ALGS, generateClientKeyPair } from '../auth/key-generation.ts';
import { CliError, parseInput, withDatabase } from './common.ts';

/** `joinedup keys generate|rotate`: client key pairs, and the gateway's own signing key. */
export function addKeyCommands(program: Command): void {
  const keys = program.command('keys').description('client key pairs and the gateway signing key');

  keys
    .command('generate')
    .description('make a key pair for a client system: a private JWK (keep it secret) and the matching public JWKS (register it)')
    .option('--alg <alg>', 'ES384 or RS384', 'ES384')
    .option('--out <dir>', 'write private.jwk.json (mode 0600) and jwks.json into this directory instead of printing the private key')
    .option('--json', 'print one JSON object {kid, alg, privateJwk, publicJwks}')
    .action(async (raw: Record<string, unknown>) => {
      const opts = parseInput(GenerateOptions, raw);
      const pair = await generateClientKeyPair(opts.alg);
      if (opts.out) {
        mkdirSync(opts.out, { recursive: true, mode: 0o700 });
        const privateFile = join(opts.out, 'private.jwk.json');
        const publicFile = join(opts.out, 'jwks.json');
        // Never overwrite a key someone may already have registered, nor leave half a pair.
        for (const f of [privateFile, publicFile]) {
          if (existsSync(f)) throw new CliError(`${f} already exists; choose another --out directory`);
        }
        writeNew(privateFile, pair.privateJwk, 0o600);
        writeNew(publicFile, pair.publicJwks, 0o644);
        process.stdout.write(
          opts.json
            ? `${JSON.stringify({ kid: pair.kid, alg: pair.alg, privateJwkFile: privateFile, publicJwksFile: publicFile })}\n`
            : `kid ${pair.kid} (${pair.alg})\nprivate key: ${privateFile} (mode 0600; keep it secret, give it to joinedup token --key)\npublic JWKS: ${publicFile} (register it: joinedup client register --jwks ${publicFile} ...)\n`
        );
        return;
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ kid: pair.kid, alg: pair.alg, privateJwk: pair.privateJwk, publicJwks: pair.publicJwks }, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `# Private JWK (${pair.alg}, kid ${pair.kid}). Keep it secret: it signs the client's assertions.\n` +
          `${JSON.stringify(pair.privateJwk, null, 2)}\n` +
          `# Public JWKS. Register it with: joinedup client register --jwks <file> ...\n` +
          `${JSON.stringify(pair.publicJwks, null, 2)}\n`
      );
    });

  keys
    .command('rotate')
    .description("rotate the gateway's access token signing key (the old key still verifies tokens until they expire)")
    .action(async () => {
      const kid = await withDatabase(async (db) => (await GatewayKeys.load(db)).rotate());
      process.stdout.write(
        `new gateway signing key ${kid}. Running gateways start signing with it within a minute; ` +
          `tokens signed with the old key stay valid for up to ${RETIRED_KEY_GRACE_SECONDS / 60} minutes.\n`
      );
    });
}

const GenerateOptions = z.object({
  alg: z.enum(CLIENT_KEY_ALGS, { error: 'must be ES384 or RS384' }),
  out: z.string().min(1).optional(),
  json: z.boolean().optional(),
});

function writeNew(file: string, value: unknown, mode: number): void {
  try {
    writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`, { mode, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${file} already exists; choose another --out directory`);
    throw err;
  }
}
