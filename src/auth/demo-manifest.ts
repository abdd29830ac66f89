import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ORGANISATION_KINDS } from './organisation.ts';
import type { OrganisationKind } from './organisation.ts';
import { PURPOSE_CODES } from './purposes.ts';
import type { PurposeOfUse } from './purposes.ts';

/**
 * The demo organisations, clients and suggested users an empty embedded
 * database gets (src/auth/demo-seed.ts, which also loads the demo sharing
 * agreements between them), and where their keys live. Every ODS
 * code is invented (X9...: no real organisation has them) and every user is a
 * made-up role holder, so nothing here can be mistaken for real data.
 * Kept apart from the seeding code so `joinedup token` can read it cheaply.
 */
export interface DemoUser {
  id: string;
  name: string;
  /** SDS job role code (UK Core SDSJobRoleName). */
  role: string;
  roleName: string;
}

export interface DemoClientSpec {
  clientId: string;
  organisation: { ods: string; name: string; kind: OrganisationKind };
  scopes: string[];
  purposes: PurposeOfUse[];
  users: DemoUser[];
}

export const DEMO_CLIENTS: readonly DemoClientSpec[] = [
  {
    clientId: 'demo-gp',
    organisation: { ods: 'X99001', name: 'Riverside Surgery (demo)', kind: 'gp-practice' },
    scopes: ['system/*.rs'],
    purposes: ['TREAT', 'ETREAT', 'BTG'],
    users: [{ id: 'demo-gp-user-1', name: 'Demo GP (synthetic)', role: 'R8000', roleName: 'Clinical Practitioner Access Role' }],
  },
  {
    clientId: 'demo-hospital',
    organisation: { ods: 'X9H01', name: 'Northgate Hospitals NHS Trust (demo)', kind: 'nhs-trust' },
    scopes: ['system/*.rs', 'system/ServiceRequest.cu', 'system/Task.cu'],
    purposes: ['TREAT', 'ETREAT', 'BTG', 'CAREMGT'],
    users: [
      { id: 'demo-hospital-user-1', name: 'Demo Ward Doctor (synthetic)', role: 'R8000', roleName: 'Clinical Practitioner Access Role' },
      { id: 'demo-hospital-nurse-1', name: 'Demo Discharge Nurse (synthetic)', role: 'R8001', roleName: 'Nurse Access Role' },
    ],
  },
  {
    clientId: 'demo-council',
    organisation: { ods: 'X9C01', name: 'Midshire County Council (demo)', kind: 'local-authority' },
    scopes: ['system/*.cruds', 'system/council.write'],
    purposes: ['CAREMGT', 'TREAT', 'safeguarding-adults', 'safeguarding-children'],
    users: [
      { id: 'demo-council-sw-1', name: 'Demo Social Worker (synthetic)', role: 'R1330', roleName: 'Social Worker' },
      { id: 'demo-council-cm-1', name: 'Demo Care Manager (synthetic)', role: 'R9575', roleName: 'Social Services Care Manager (Adults)' },
    ],
  },
  {
    clientId: 'demo-ig',
    organisation: { ods: 'X9G01', name: 'Midshire Information Governance (demo)', kind: 'information-governance' },
    scopes: ['system/ig.read', 'system/AuditEvent.rs'],
    purposes: ['HOPERAT'],
    users: [{ id: 'demo-ig-user-1', name: 'Demo Privacy Officer (synthetic)', role: 'R0001', roleName: 'Privacy Officer' }],
  },
  {
    // A second practice, so the demo shows one GP seeing a person registered with it and another not.
    clientId: 'demo-gp-2',
    organisation: { ods: 'X99002', name: 'Hillside Medical Centre (demo)', kind: 'gp-practice' },
    scopes: ['system/*.rs'],
    purposes: ['TREAT', 'ETREAT', 'BTG'],
    users: [{ id: 'demo-gp-2-user-1', name: 'Demo Practice Nurse (synthetic)', role: 'R8001', roleName: 'Nurse Access Role' }],
  },
  {
    // Covered by a narrower agreement than the acute trust (src/gate/agreements/demo-agreements.ts).
    clientId: 'demo-mh-trust',
    organisation: { ods: 'X9M01', name: 'Midshire Mental Health NHS Foundation Trust (demo)', kind: 'nhs-trust' },
    scopes: ['system/*.rs', 'system/ServiceRequest.cu'],
    purposes: ['TREAT', 'ETREAT', 'BTG', 'CAREMGT', 'safeguarding-adults'],
    users: [{ id: 'demo-mh-user-1', name: 'Demo Care Coordinator (synthetic)', role: 'R8001', roleName: 'Nurse Access Role' }],
  },
];

/**
 * Where demo keys and the manifest are written. An in-memory database has no
 * directory, so its demo keys go to a fixed place under the system temp dir.
 */
export function demoKeyDir(dataDir: string): string {
  return dataDir.startsWith('memory://') ? join(tmpdir(), 'joinedup-demo-clients') : join(dataDir, 'demo-clients');
}

export function demoKeyFile(dataDir: string, clientId: string): string {
  return join(demoKeyDir(dataDir), `${clientId}.private.jwk.json`);
}

export function demoManifestFile(dataDir: string): string {
  return join(demoKeyDir(dataDir), 'manifest.json');
}

const ManifestSchema = z.object({
  note: z.string(),
  createdAt: z.string(),
  clients: z.array(
    z.object({
      clientId: z.string(),
      organisation: z.object({ ods: z.string(), name: z.string(), kind: z.enum(ORGANISATION_KINDS) }),
      scopes: z.array(z.string()),
      purposes: z.array(z.enum(PURPOSE_CODES)),
      kid: z.string(),
      keyFile: z.string(),
      users: z.array(z.object({ id: z.string(), name: z.string(), role: z.string(), roleName: z.string() })),
      example: z.string(),
    })
  ),
  patients: z.array(z.object({ nhsNumber: z.string(), id: z.string() })),
});

/** What DATA_DIR/demo-clients/manifest.json holds. */
export type DemoManifest = z.infer<typeof ManifestSchema>;

/** The manifest, or undefined when there is none (no demo) or it cannot be read. */
export function readDemoManifest(dataDir: string): DemoManifest | undefined {
  let text: string;
  try {
    text = readFileSync(demoManifestFile(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = ManifestSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The command that gets a token as a demo client's first suggested user. */
export function demoTokenCommand(clientId: string, purpose: string, user: DemoUser): string {
  return `npx joinedup token --client ${clientId} --purpose ${purpose} --user ${user.id} --role ${user.role}`;
}
