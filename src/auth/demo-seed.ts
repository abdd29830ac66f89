import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseSearchRequest } from '@medplum/core';
import type { CarePlan, Patient } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { Database, SqlClient } from '../db/sql-client.ts';
import { PgRepository } from '../fhir/repo/pg-repository.ts';
import type { ResourceValidator } from '../fhir/repo/validator-port.ts';
import { loadBaseSchema } from '../fhir/schema.ts';
import { buildSearchParamRegistry } from '../fhir/search/search-params.ts';
import { NHS_NUMBER_SYSTEM, ODS_ORGANIZATION_SYSTEM, makeTestNhsNumber } from '../fhir/validation/nhs-number.ts';
import { createValidator } from '../fhir/validation/validator.ts';
import { addAgreementInTransaction, agreementExists } from '../gate/agreements/agreement-store.ts';
import { DEMO_AGREEMENTS } from '../gate/agreements/demo-agreements.ts';
import type { RequestContext } from '../request-context.ts';
import { ClientRegistry } from './client-registry.ts';
import { DEMO_CLIENTS, demoKeyDir, demoKeyFile, demoManifestFile, demoTokenCommand, readDemoManifest } from './demo-manifest.ts';
import type { DemoManifest } from './demo-manifest.ts';
import { generateClientKeyPair } from './key-generation.ts';

export type { DemoManifest } from './demo-manifest.ts';

export interface DemoSeedOptions {
  dataDir: string;
  /** The gateway's public base URL (the hint names it when it is not the CLI's default). */
  baseUrl: string;
  logger: Logger;
  /** The server's validator; one is built when absent (tests, CLI). */
  validator?: ResourceValidator;
  /** Where the "how to get a token" hint goes (the server passes stdout). */
  print?: (text: string) => void;
}

/**
 * DEMO_DATA=on always seeds an empty database; auto (the default) only the
 * embedded one, which is what `npm ci && npm start` on a laptop gets. A
 * PostgreSQL deployment never gets demo clients unless an operator asks.
 */
export function demoWanted(setting: 'auto' | 'on' | 'off', dbKind: Database['kind']): boolean {
  return setting === 'on' || (setting === 'auto' && dbKind === 'pglite');
}

/** Invented people (NHS numbers from the test ranges) so the README walk-through finds someone. */
function demoPatients(): Patient[] {
  const people: Array<[string, string, string, Patient['gender'], string]> = [
    ['9000000009', 'Example', 'Alex', 'female', '1950-02-03'],
    [makeTestNhsNumber(101), 'Sample', 'Robin', 'male', '1938-07-21'],
    [makeTestNhsNumber(102), 'Placeholder', 'Jo', 'female', '1944-11-09'],
    [makeTestNhsNumber(103), 'Testcase', 'Sam', 'male', '1962-04-30'],
    [makeTestNhsNumber(104), 'Fictional', 'Kit', 'female', '2012-01-15'],
  ];
  return people.map(([nhs, family, given, gender, birthDate]) => ({
    resourceType: 'Patient',
    identifier: [{ system: NHS_NUMBER_SYSTEM, value: nhs }],
    name: [{ use: 'official', family, given: [given] }],
    gender,
    birthDate,
    generalPractitioner: [{ identifier: { system: ODS_ORGANIZATION_SYSTEM, value: 'X99001' }, display: 'Riverside Surgery (demo)' }],
  }));
}

function demoCarePlan(patientId: string): CarePlan {
  return {
    resourceType: 'CarePlan',
    status: 'active',
    intent: 'plan',
    title: 'Home care support plan (demo)',
    category: [{ coding: [{ system: 'http://snomed.info/sct', code: '734163000', display: 'Care plan' }] }],
    subject: { reference: `Patient/${patientId}` },
    period: { start: '2025-01-06' },
    author: { identifier: { system: ODS_ORGANIZATION_SYSTEM, value: 'X9C01' }, display: 'Midshire County Council (demo)' },
  };
}

/**
 * On a database with no clients, registers the demo organisations and
 * their clients, loads the demo sharing agreements, writes each client's private key (mode 0600) and a manifest
 * under DATA_DIR/demo-clients, and stores a few synthetic Patients and
 * CarePlans. Returns the manifest, or undefined when clients already exist
 * (the database is in use: demo data must never mix into it).
 *
 * Everything is one transaction under an advisory lock, so two instances
 * starting together on one PostgreSQL seed once, and a failure leaves nothing.
 */
export async function seedDemo(db: Database, options: DemoSeedOptions): Promise<DemoManifest | undefined> {
  const { dataDir, logger } = options;
  const keyDir = demoKeyDir(dataDir);
  if ((await new ClientRegistry(db).count()) > 0) {
    const existing = readDemoManifest(dataDir);
    if (existing) options.print?.(hint(existing, options));
    return undefined;
  }
  loadBaseSchema();
  buildSearchParamRegistry();
  const validator = options.validator ?? createValidator();
  const manifest = await db.transaction(async (tx) => {
    // 7243001 is migrations', 7243002 the gateway keys'.
    await tx.query('SELECT pg_advisory_xact_lock(7243003)');
    const clients = new ClientRegistry(tx);
    if ((await clients.count()) > 0) return undefined; // another instance won the race
    return seedInTransaction(db, tx, clients, validator, options);
  });
  if (!manifest) return undefined;
  // Ids and paths only: the manifest's names are synthetic, but logs carry no names as a rule.
  logger.info(
    { keyDir, clients: manifest.clients.map((c) => c.clientId), patients: manifest.patients.length },
    'demo data: registered demo clients on an empty database; their private keys are in keyDir (synthetic, never use with real data)'
  );
  options.print?.(hint(manifest, options));
  return manifest;
}

async function seedInTransaction(db: Database, tx: SqlClient, clients: ClientRegistry, validator: ResourceValidator, options: DemoSeedOptions): Promise<DemoManifest> {
  const keyDir = demoKeyDir(options.dataDir);
  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  const manifest: DemoManifest = {
    note: 'Synthetic demo organisations, clients and keys created by JoinedUp on an empty database. Invented ODS codes and people: never use them with real data.',
    createdAt: new Date().toISOString(),
    clients: [],
    patients: [],
  };
  for (const spec of DEMO_CLIENTS) {
    const keys = await generateClientKeyPair('ES384');
    await clients.register({ ...spec, jwks: keys.publicJwks });
    const keyFile = demoKeyFile(options.dataDir, spec.clientId);
    writeSecret(keyFile, `${JSON.stringify(keys.privateJwk, null, 2)}\n`);
    const user = spec.users[0]!;
    manifest.clients.push({
      ...spec,
      kid: keys.kid,
      keyFile: basename(keyFile),
      example: demoTokenCommand(spec.clientId, spec.purposes[0]!, user),
    });
  }

  // Through the repository, so the demo data is validated and indexed like any write.
  // The demo council writes the demo records, so it is their controller: the
  // gate then shares them under the demo agreements as it would real ones
  // (a record with no controller is shared with nobody).
  const council = DEMO_CLIENTS.find((c) => c.organisation.kind === 'local-authority')!;
  const context: RequestContext = {
    requestId: 'demo-seed',
    authMode: 'smart',
    actor: {
      clientId: council.clientId,
      organisation: council.organisation,
      user: { id: council.users[0]!.id, role: council.users[0]!.role },
      purposeOfUse: 'CAREMGT',
      scopes: [],
      tokenId: 'demo-seed',
    },
  };
  const repo = new PgRepository({ db, validator, baseUrl: `${options.baseUrl}/fhir`, onDbError: () => undefined }, context, tx, true);
  for (const patient of demoPatients()) {
    const nhs = patient.identifier![0]!.value!;
    // Conditional: a database that had Patients before auth existed may hold this NHS number already.
    const { resource, outcome } = await repo.conditionalCreate(patient, parseSearchRequest(`Patient?identifier=${NHS_NUMBER_SYSTEM}|${nhs}`));
    manifest.patients.push({ nhsNumber: nhs, id: resource.id });
    if (outcome.id === 'created') await repo.createResource(demoCarePlan(resource.id));
  }
  await seedDemoAgreements(tx);
  writeSecret(demoManifestFile(options.dataDir), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/**
 * The demo sharing agreements, each only when no agreement has its id: an
 * operator may have loaded their own version, or ended one, and the demo
 * must not overwrite or revive it. Returns the ids added.
 */
export async function seedDemoAgreements(tx: SqlClient): Promise<string[]> {
  const added: string[] = [];
  for (const agreement of DEMO_AGREEMENTS) {
    if (await agreementExists(tx, agreement.id)) continue;
    await addAgreementInTransaction(tx, agreement);
    added.push(agreement.id);
  }
  return added;
}

/** 0600 even when the file already existed with wider permissions (writeFile's mode applies only on creation). */
function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * Says where the keys are and how to get a token. The command names DATA_DIR
 * and --url only when they differ from what the CLI assumes by default.
 */
function hint(manifest: DemoManifest, options: DemoSeedOptions): string {
  const gp = manifest.clients.find((c) => c.clientId === 'demo-gp') ?? manifest.clients[0];
  const lines = [
    `Demo mode: synthetic demo clients ${manifest.clients.map((c) => c.clientId).join(', ')}; their keys are in ${demoKeyDir(options.dataDir)} (see manifest.json).`,
  ];
  if (gp) {
    const dir = ['./data', 'data'].includes(options.dataDir) ? '' : `DATA_DIR=${options.dataDir} `;
    const url = options.baseUrl === 'http://127.0.0.1:8080' ? '' : ` --url ${options.baseUrl}`;
    lines.push(`Get a token:  TOKEN=$(${dir}${gp.example}${url})`);
  }
  return `${lines.join('\n')}\n`;
}
