import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import type { Bundle, CodeSystem } from '@medplum/fhirtypes';
import { JOINEDUP_PURPOSE_SYSTEM, PURPOSES } from '../auth/purposes.ts';
import { GATE_CODE_SYSTEMS } from '../gate/codesystems.ts';
import { DEFAULT_MAPPINGS_DIR } from '../mapping/mapping-registry.ts';
import { httpError } from './outcome.ts';

/**
 * Our CodeSystems, public like the CapabilityStatement: the codes a decision,
 * an audit record or a mapped resource carries must be resolvable by whoever
 * receives them (the gate's rules, lawful bases, obligations and outcomes,
 * our purposes of use, and the code lists the mappings use).
 */
let published: Map<string, CodeSystem> | undefined;

function codeSystems(): Map<string, CodeSystem> {
  if (published) return published;
  const dir = join(DEFAULT_MAPPINGS_DIR, 'codesystems');
  const fromMappings = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CodeSystem);
  const purposes: CodeSystem = {
    resourceType: 'CodeSystem',
    id: 'purpose-of-use',
    url: JOINEDUP_PURPOSE_SYSTEM,
    version: '1.0.0',
    name: 'JoinedUpPurposeOfUse',
    title: 'JoinedUp purposes of use without an HL7 code',
    status: 'active',
    content: 'complete',
    caseSensitive: true,
    concept: Object.entries(PURPOSES)
      .filter(([, p]) => p.system === JOINEDUP_PURPOSE_SYSTEM)
      .map(([code, p]) => ({ code, display: p.display })),
  };
  published = new Map([...GATE_CODE_SYSTEMS, purposes, ...fromMappings].filter((c) => c.id).map((c) => [c.id as string, c]));
  return published;
}

export function codeSystemRead(req: Request, res: Response): void {
  const cs = codeSystems().get(String(req.params.id));
  if (!cs) throw httpError(404, 'not-found', 'No such CodeSystem on this server');
  res.status(200).type('application/fhir+json').send(JSON.stringify(cs));
}

/** GET /fhir/CodeSystem[?url=...]: a searchset of ours (by canonical url when given). */
export function codeSystemSearch(req: Request, res: Response): void {
  const url = typeof req.query.url === 'string' ? req.query.url : undefined;
  const matches = [...codeSystems().values()].filter((c) => !url || c.url === url);
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    total: matches.length,
    ...(matches.length ? { entry: matches.map((c) => ({ fullUrl: c.url, resource: c, search: { mode: 'match' as const } })) } : {}),
  };
  res.status(200).type('application/fhir+json').send(JSON.stringify(bundle));
}
