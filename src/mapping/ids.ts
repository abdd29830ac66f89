import { hash } from 'node:crypto';

/** RFC 4122 DNS namespace, used once to derive JoinedUp's own namespace. */
const DNS_NAMESPACE = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) {
    throw new Error(`Not a UUID: ${uuid}`);
  }
  return Buffer.from(hex, 'hex');
}

/** Parsed namespaces: every mapped resource's id is derived in the same one, so it is parsed once. */
const namespaces = new Map<string, Buffer>();

function namespaceBytes(uuid: string): Buffer {
  let bytes = namespaces.get(uuid);
  if (!bytes) {
    bytes = uuidBytes(uuid);
    if (namespaces.size < 16) {
      namespaces.set(uuid, bytes);
    }
  }
  return bytes;
}

/** The RFC 4122 variant nibble (binary 10xx) for each value of the digest's nibble. */
const VARIANT = '89ab89ab89ab89ab';

/**
 * UUID version 5 (RFC 4122 §4.3: SHA-1 of namespace bytes + UTF-8 name).
 * One-shot hash to hex, version and variant set in the hex: every mapped
 * resource needs one, and the streaming Hash object plus Buffer formatting
 * cost twice as much.
 */
export function uuidV5(name: string, namespace: string): string {
  const ns = namespaceBytes(namespace);
  const data = Buffer.allocUnsafe(16 + Buffer.byteLength(name, 'utf8'));
  ns.copy(data, 0);
  data.write(name, 16, 'utf8');
  const h = hash('sha1', data, 'hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${VARIANT[parseInt(h[16]!, 16)]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The namespace every JoinedUp deterministic id lives in: uuidV5('joinedup.org.uk', DNS). */
export const JOINEDUP_NAMESPACE = uuidV5('joinedup.org.uk', DNS_NAMESPACE);

export interface IdInputs {
  /** ODS code of the council that sent the record. */
  councilOds: string;
  /** The council's source (case-management) system. */
  sourceSystem: string;
  /** The source identifier the resource derives from: a person's local id, a record id, a carer's id... */
  key: string;
  /** FHIR resource type of the resource the id is for. */
  resourceType: string;
  /** Distinguishes several resources of one type from the same key (e.g. 'primary-support-reason'). */
  kind?: string;
  /** Position when nothing better identifies an item of a repeated source list. */
  index?: string | number;
}

const SEP = '\u001f';

/**
 * The deterministic id of a mapped resource: UUID v5 in JOINEDUP_NAMESPACE over
 * (council ODS, source system, key, resource type, kind, index). The same source
 * identifiers always give the same id, so re-mapping a record is idempotent.
 * ODS codes are upper-cased (they are case-insensitive); everything else is exact.
 * `cache` (name → id) saves hashing again the ids one record asks for many
 * times, such as its Patient's from every Goal.
 */
export function deterministicId(inputs: IdInputs, cache?: Map<string, string>): string {
  const name = [
    inputs.councilOds.toUpperCase(),
    inputs.sourceSystem,
    inputs.key,
    inputs.resourceType,
    inputs.kind ?? '',
    inputs.index === undefined ? '' : String(inputs.index),
  ].join(SEP);
  if (!cache) {
    return uuidV5(name, JOINEDUP_NAMESPACE);
  }
  let id = cache.get(name);
  if (id === undefined) {
    id = uuidV5(name, JOINEDUP_NAMESPACE);
    cache.set(name, id);
  }
  return id;
}
