import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { ClientExistsError, ClientRegistration, ClientRegistry } from '../auth/client-registry.ts';
import type { ClientRecord } from '../auth/client-registry.ts';
import { publishInvalidation } from '../ops/cluster-invalidation.ts';
import { CliError, parseInput, splitList, table, withDatabase } from './common.ts';

/** `joinedup client register|list|suspend|activate`: the client registry for operators. */
export function addClientCommands(program: Command): void {
  const client = program.command('client').description('register and manage client systems (SMART Backend Services)');

  client
    .command('register')
    .description('register a client system: its organisation, public keys, scopes and purposes of use')
    .option('--id <id>', 'client_id the system will use (3-100 of A-Z a-z 0-9 . _ -)')
    .option('--ods <code>', "the organisation's ODS code, e.g. X99001")
    .option('--org-name <name>', "the organisation's name")
    .option('--kind <kind>', 'gp-practice | nhs-trust | local-authority | voluntary | information-governance')
    .option('--jwks <file>', 'a file holding the public JWKS (or one public JWK), e.g. from `joinedup keys generate --out`')
    .option('--jwks-uri <url>', 'an https URL where the client publishes its JWKS')
    .option('--scope <scopes...>', "allowed SMART scopes, e.g. 'system/*.rs' 'system/Task.cu' (quote them: * is a shell wildcard)")
    .option('--purpose <codes...>', 'allowed purposes of use, e.g. TREAT CAREMGT')
    .action(async (opts: Record<string, unknown>) => {
      const registration = registrationFrom(opts);
      const record = await withDatabase(async (db) => {
        try {
          return await new ClientRegistry(db).register(registration);
        } catch (err) {
          if (err instanceof ClientExistsError) throw new CliError(err.message);
          throw err;
        }
      });
      process.stdout.write(
        `registered ${record.clientId} for ${record.organisation.name} (${record.organisation.ods}, ${record.organisation.kind}); ` +
          `scopes ${record.scopes.join(' ')}; purposes ${record.purposes.join(' ')}\n`
      );
    });

  client
    .command('list')
    .description('list registered clients (never shows key material)')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: { json?: boolean }) => {
      const records = await withDatabase((db) => new ClientRegistry(db).list());
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(records.map(summary), null, 2)}\n`);
        return;
      }
      if (records.length === 0) {
        process.stdout.write('no clients registered\n');
        return;
      }
      process.stdout.write(
        table(
          ['CLIENT', 'STATUS', 'ODS', 'KIND', 'ORGANISATION', 'KEYS', 'SCOPES', 'PURPOSES'],
          records.map((r) => {
            const s = summary(r);
            return [s.clientId, s.status, s.ods, s.kind, s.organisation, s.keys, s.scopes.join(' '), s.purposes.join(' ')];
          })
        )
      );
    });

  for (const [name, status, verb] of [
    ['suspend', 'suspended', 'refuse tokens to'],
    ['activate', 'active', 'issue tokens again to'],
  ] as const) {
    client
      .command(name)
      .description(`${verb} a client`)
      .argument('<id>', 'client_id')
      .action(async (id: string) => {
        const clientId = parseInput(ClientId, id, { '': '<id>' });
        // The running gateways hear of it on COMMIT (their status caches drop the client), not after CLIENT_STATUS_TTL_MS.
        const found = await withDatabase((db) =>
          db.transaction(async (tx) => {
            const changed = await new ClientRegistry(tx).setStatus(clientId, status);
            if (changed) await publishInvalidation(tx, { kind: 'clients', clientIds: [clientId] });
            return changed;
          })
        );
        if (!found) throw new CliError(`no client ${clientId} is registered`);
        // Access tokens are checked by signature, not looked up: those already issued run out on their own.
        const note = status === 'suspended' ? '; it gets no new tokens, and tokens already issued expire within ACCESS_TOKEN_SECONDS (at most 5 minutes)' : '';
        process.stdout.write(`${clientId} is now ${status}${note}\n`);
      });
  }
}

const ClientId = z.string().regex(/^[A-Za-z0-9._-]{3,100}$/, 'client ids are 3-100 of A-Z a-z 0-9 . _ -');

const RegisterOptions = z
  .object({
    id: z.string({ error: 'required' }),
    ods: z.string({ error: 'required' }),
    orgName: z.string({ error: 'required' }),
    kind: z.string({ error: 'required' }),
    jwks: z.string().min(1).optional(),
    jwksUri: z.string().optional(),
    scope: z.array(z.string(), { error: 'required (at least one)' }),
    purpose: z.array(z.string(), { error: 'required (at least one)' }),
  })
  // when: also when other options are wrong, so one run lists every problem.
  .refine((o) => (o.jwks === undefined) !== (o.jwksUri === undefined), { message: 'give exactly one of --jwks <file> or --jwks-uri <url>', when: () => true });

/** Where ClientRegistration's fields come from on the command line, for error messages. */
const OPTION_NAMES: Record<string, string> = {
  clientId: '--id',
  'organisation.ods': '--ods',
  'organisation.name': '--org-name',
  'organisation.kind': '--kind',
  jwks: '--jwks',
  'jwks.keys': '--jwks',
  'jwks.keys.kid': '--jwks',
  'jwks.keys.kty': '--jwks',
  jwksUri: '--jwks-uri',
  scopes: '--scope',
  purposes: '--purpose',
};

function registrationFrom(opts: Record<string, unknown>): ClientRegistration {
  const o = parseInput(RegisterOptions, opts);
  const input = {
    clientId: o.id,
    organisation: { ods: o.ods, name: o.orgName, kind: o.kind },
    jwks: o.jwks === undefined ? undefined : readJwksFile(o.jwks),
    jwksUri: o.jwksUri,
    scopes: splitList(o.scope),
    purposes: splitList(o.purpose),
  };
  return parseInput(ClientRegistration, input, OPTION_NAMES);
}

/** Reads a JWKS file; a single public JWK is accepted and wrapped. */
function readJwksFile(file: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`--jwks: cannot read ${file} as JSON (${(err as NodeJS.ErrnoException).code ?? 'invalid JSON'})`, 2);
  }
  const jwks = value !== null && typeof value === 'object' && 'kty' in value ? { keys: [value] } : value;
  const keys = (jwks as { keys?: unknown }).keys;
  if (Array.isArray(keys) && keys.some((k) => k !== null && typeof k === 'object' && 'd' in k)) {
    throw new CliError(`--jwks: ${file} holds a private key. Register the public JWKS only (joinedup keys generate writes both, as separate files).`, 2);
  }
  return jwks;
}

interface ClientSummary {
  clientId: string;
  status: string;
  ods: string;
  kind: string;
  organisation: string;
  keys: string;
  scopes: string[];
  purposes: string[];
}

/** A client without its keys: how many are registered by value, or where they are published. */
function summary(r: ClientRecord): ClientSummary {
  const n = r.jwks?.keys.length ?? 0;
  return {
    clientId: r.clientId,
    status: r.status,
    ods: r.organisation.ods,
    kind: r.organisation.kind,
    organisation: r.organisation.name,
    keys: r.jwksUri ? `jwks_uri ${r.jwksUri}` : `jwks (${n} key${n === 1 ? '' : 's'})`,
    scopes: r.scopes,
    purposes: r.purposes,
  };
}
