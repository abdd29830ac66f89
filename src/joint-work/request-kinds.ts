import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeableConcept, CodeSystem } from '@medplum/fhirtypes';
import { DEFAULT_MAPPINGS_DIR } from '../mapping/mapping-registry.ts';
import { REQUEST_KIND_SYSTEM, ROLE_SYSTEM } from './codes.ts';

/** Codes of one of our CodeSystems in mappings/codesystems/, by id. */
function codesOf(id: string): ReadonlyMap<string, string> {
  const cs = JSON.parse(readFileSync(join(DEFAULT_MAPPINGS_DIR, 'codesystems', `${id}.json`), 'utf8')) as CodeSystem;
  return new Map((cs.concept ?? []).map((c) => [c.code, c.display ?? c.code]));
}

let kinds: ReadonlyMap<string, string> | undefined;
let roles: ReadonlyMap<string, string> | undefined;

/** joint-work-request-kind: code → display. */
export function requestKinds(): ReadonlyMap<string, string> {
  return (kinds ??= codesOf('joint-work-request-kind'));
}

/** joint-work-role: code → display. */
export function jointWorkRoles(): ReadonlyMap<string, string> {
  return (roles ??= codesOf('joint-work-role'));
}

/** The request kind a ServiceRequest's or Task's code carries, if any (known or not). */
export function requestKindOf(code: CodeableConcept | undefined): string | undefined {
  return code?.coding?.find((c) => c.system === REQUEST_KIND_SYSTEM && c.code)?.code;
}

export { REQUEST_KIND_SYSTEM, ROLE_SYSTEM };
