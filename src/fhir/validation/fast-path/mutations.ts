import fc from 'fast-check';

/*
 * Random damage to realistic resources, for the fast path's differential
 * tests: each mutation picks a place in the resource (any object, array or
 * value, the root included) and does one of the things senders get wrong.
 */

type Json = unknown;
type Container = Record<string, unknown> | unknown[];

/** A place in the resource: the container and the key/index in it (undefined for the container itself). */
interface Place {
  container: Container;
  key: string | number;
}

function places(value: Json, out: Place[] = []): Place[] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push({ container: value, key: i });
      places(v, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push({ container: value as Record<string, unknown>, key: k });
      places(v, out);
    }
  }
  return out;
}

function containers(value: Json, out: Container[] = []): Container[] {
  if (Array.isArray(value)) {
    out.push(value);
    value.forEach((v) => containers(v, out));
  } else if (typeof value === 'object' && value !== null) {
    out.push(value as Record<string, unknown>);
    Object.values(value).forEach((v) => containers(v, out));
  }
  return out;
}

/** Values that break some FHIR primitive or structure rule, or only nearly do. */
export const TRICKY_VALUES: readonly unknown[] = [
  null,
  '',
  ' ',
  '  padded ',
  'two  spaces',
  'tab\there',
  'line\nbreak',
  '\u0001control',
  '2025-02-30',
  '2025-13-01',
  '2024-02-29',
  '2025-1-1',
  '2025-01-06T10:00',
  '2025-01-06T10:00:00',
  '2025-01-06T10:00:00Z',
  '2025-01-06T24:00:00Z',
  '2025-01-06T10:00:00+15:00',
  '0000-01-01',
  '20250106',
  'not a date',
  'has space',
  'bad_id!',
  'a'.repeat(65),
  'urn:uuid:not-a-uuid',
  'urn:uuid:5c67caa3-713d-5da8-8d9b-1bcda937a3a4',
  'urn:oid:1.2.3',
  'Patient/abc',
  'Patient/has space',
  'Organization/x',
  'Practitioner/1',
  'Patient?identifier=x',
  '#contained',
  '?',
  '/Patient',
  'http://example.org/x',
  'unknown-code',
  'active',
  'female',
  'official',
  0,
  -1,
  1.5,
  2 ** 31,
  -(2 ** 31) - 1,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  false,
  [],
  {},
  [null],
  [''],
  [[]],
  { foo: 'bar' },
  { extension: [] },
  { id: 'x' },
  { url: 'http://example.org/ext' },
  { url: 'http://example.org/ext', valueString: 'x', extension: [{ url: 'a', valueString: 'b' }] },
  { resourceType: 'Patient', id: 'nested' },
  { reference: 'Organization/x' },
  { reference: 'Patient/p1', type: 'Organization' },
  { reference: 42 },
  { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000018' },
  { coding: [{ system: 'http://snomed.info/sct', code: '734163000' }] },
  { coding: [{ system: 'http://example.org', code: 'x' }] },
  { coding: [] },
  { text: 'just text' },
];

/** Property names an object might wrongly (or rightly) gain. */
const EXTRA_KEYS = [
  'foo',
  '_status',
  '_birthDate',
  '_given',
  'valueString',
  'valueInteger',
  'valueBoolean',
  'valueCodeableConcept',
  'contained',
  'resourceType',
  'extension',
  'modifierExtension',
  'id',
  'text',
  'meta',
  'status',
  'reference',
  'system',
  'code',
  'display',
  '__proto__',
  'constructor',
  'performedDateTime',
  'occurrenceDateTime',
  'detailString',
  'detailQuantity',
];

export type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'set'; at: number; value: unknown }
  | { kind: 'wrap'; at: number }
  | { kind: 'unwrap'; at: number }
  | { kind: 'add'; at: number; key: string; value: unknown }
  | { kind: 'rename'; at: number; key: string }
  | { kind: 'duplicate'; at: number }
  | { kind: 'whitespace'; at: number };

const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TRICKY_VALUES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }
);

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: valueArb }),
  fc.record({ kind: fc.constant('wrap' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('unwrap' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: fc.constantFrom(...EXTRA_KEYS), value: valueArb }),
  fc.record({ kind: fc.constant('rename' as const), at: fc.nat(), key: fc.constantFrom(...EXTRA_KEYS) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('whitespace' as const), at: fc.nat() })
);

/** Applies `mutation` to `resource` in place (it should be a deep copy). */
export function applyMutation(resource: Record<string, unknown>, mutation: Mutation): void {
  if (mutation.kind === 'add') {
    const targets = containers(resource).filter((c) => !Array.isArray(c)) as Record<string, unknown>[];
    const target = targets[mutation.at % targets.length]!;
    Object.defineProperty(target, mutation.key, { value: structuredClone(mutation.value), enumerable: true, configurable: true, writable: true });
    return;
  }
  const all = places(resource);
  if (all.length === 0) {
    return;
  }
  const { container, key } = all[mutation.at % all.length]!;
  const current = (container as Record<string | number, unknown>)[key];
  const set = (v: unknown): void => {
    (container as Record<string | number, unknown>)[key] = v;
  };
  switch (mutation.kind) {
    case 'delete':
      if (Array.isArray(container)) {
        container.splice(key as number, 1);
      } else {
        delete container[key as string];
      }
      break;
    case 'set':
      set(structuredClone(mutation.value));
      break;
    case 'wrap':
      set([current]);
      break;
    case 'unwrap':
      if (Array.isArray(current)) {
        set(current[0]);
      } else if (typeof current === 'object' && current !== null) {
        const first = Object.values(current)[0];
        set(first);
      }
      break;
    case 'rename':
      if (!Array.isArray(container)) {
        delete container[key as string];
        Object.defineProperty(container, mutation.key, { value: current, enumerable: true, configurable: true, writable: true });
      }
      break;
    case 'duplicate':
      if (Array.isArray(container)) {
        container.push(structuredClone(current));
      } else {
        set([current, structuredClone(current)]);
      }
      break;
    case 'whitespace':
      if (typeof current === 'string') {
        set(` ${current}`);
      } else if (typeof current === 'number') {
        set(String(current));
      }
      break;
  }
}
