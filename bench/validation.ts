/**
 * npx tsx bench/validation.ts — what validating one imported resource costs,
 * in-process: the full validator (createValidator().validate) with the fast
 * path (fast-path/, the default) and without it (JOINEDUP_FAST_VALIDATION=off).
 *
 * The resources are what the council import maps: synthetic caseload lines
 * (bench/synthetic-council.ts, both mixes) through the mapping registry,
 * Provenance included. Each round times both validators over every resource,
 * alternating which goes first; the table shows the median µs per resource
 * over the rounds and each round's ratio (CPU time of the process, see cpuSince). Every answer is checked to be the
 * same from both (an empty list for these valid resources). A second table
 * times the part the fast path replaces on its own: @medplum/core's
 * structural validation against each resource's profile, against fastValidate.
 *
 * Settings (environment): BENCH_VALIDATION_LINES (600 caseload lines),
 * BENCH_VALIDATION_ROUNDS (9).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Resource } from '@medplum/fhirtypes';
import type { InternalTypeSchema } from '@medplum/core';
import { fastValidate } from '../src/fhir/validation/fast-path/fast-validate.ts';
import { mapCouncilRecord } from '../src/fhir/validation/fast-path/realistic-resources.ts';
import { validateStructure } from '../src/fhir/validation/structural.ts';
import { createValidator } from '../src/fhir/validation/validator.ts';
import type { ResourceValidator } from '../src/fhir/validation/validator.ts';
import { caseloadLine } from './synthetic-council.ts';

const LINES = Number(process.env.BENCH_VALIDATION_LINES ?? 600);
const ROUNDS = Number(process.env.BENCH_VALIDATION_ROUNDS ?? 9);

const resources: Resource[] = [];
for (let i = 0; i < LINES; i++) {
  resources.push(...mapCouncilRecord(caseloadLine(i, i % 2 ? 'case' : 'dense')));
}

const fast = createValidator({ fastValidation: true });
const full = createValidator({ fastValidation: false });

for (const resource of resources) {
  const a = fast.validate(resource);
  const b = full.validate(resource);
  if (!isDeepStrictEqual(a, b)) {
    throw new Error(`Validators disagree on ${resource.resourceType}/${resource.id}`);
  }
}

/**
 * CPU time (user + system) of this process since `start`, in µs. The
 * benchmark machine is shared, so CPU time, not wall time: it does not count
 * time the process spent waiting for a core.
 */
function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

/** CPU µs per resource for one pass of `validator` over all resources. */
function pass(validator: ResourceValidator): number {
  const start = process.cpuUsage();
  let issues = 0;
  for (const resource of resources) {
    issues += validator.validate(resource).length;
  }
  const elapsed = cpuSince(start);
  if (issues !== 0) {
    throw new Error(`${issues} issues on resources the import maps`);
  }
  return elapsed / resources.length;
}

const profiled: [Resource, InternalTypeSchema | undefined][] = resources.map((r) => [
  r,
  fast.registry.select(r).profiles[0]?.schema,
]);

/** CPU µs per resource for one pass of the structural check alone. */
function structuralPass(useFast: boolean): number {
  const start = process.cpuUsage();
  for (const [resource, schema] of profiled) {
    if (useFast) {
      if (!fastValidate(resource, schema)) {
        throw new Error(`Fast path declined ${resource.resourceType}/${resource.id}`);
      }
    } else if (validateStructure(resource, schema, {}).length > 0) {
      throw new Error(`Issues on ${resource.resourceType}/${resource.id}`);
    }
  }
  return cpuSince(start) / profiled.length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// Warm both up (JIT, value set expansions, profile plans).
pass(fast);
pass(full);

const fastUs: number[] = [];
const fullUs: number[] = [];
const ratios: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  let f: number;
  let s: number;
  if (round % 2 === 0) {
    f = pass(fast);
    s = pass(full);
  } else {
    s = pass(full);
    f = pass(fast);
  }
  fastUs.push(f);
  fullUs.push(s);
  ratios.push(s / f);
}

const structFast: number[] = [];
const structFull: number[] = [];
const structRatios: number[] = [];
structuralPass(true);
structuralPass(false);
for (let round = 0; round < ROUNDS; round++) {
  const first = round % 2 === 0;
  const a = structuralPass(first);
  const b = structuralPass(!first);
  const [f, s] = first ? [a, b] : [b, a];
  structFast.push(f);
  structFull.push(s);
  structRatios.push(s / f);
}

const byType = new Map<string, number>();
for (const r of resources) {
  byType.set(r.resourceType, (byType.get(r.resourceType) ?? 0) + 1);
}
console.log(`${resources.length} resources from ${LINES} caseload lines: ${[...byType].map(([t, n]) => `${t} ${n}`).join(', ')}`);
console.log(`${ROUNDS} rounds, interleaved; median CPU µs per resource (min..max)`);
const range = (xs: number[]) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}..${Math.max(...xs).toFixed(1)})`;
console.log(`  full @medplum/core validation: ${range(fullUs)}`);
console.log(`  with fast path:                ${range(fastUs)}`);
console.log(`  speed-up (median of per-round ratios): ${median(ratios).toFixed(1)}x`);
console.log('structural check alone (first profile of each resource), median CPU µs per resource (min..max)');
console.log(`  @medplum/core validateTypedValue: ${range(structFull)}`);
console.log(`  fastValidate:                     ${range(structFast)}`);
console.log(`  speed-up (median of per-round ratios): ${median(structRatios).toFixed(1)}x`);
