import { createHash } from 'node:crypto';

/** RFC 4122 DNS namespace, used once to derive JoinedUp's own namespace. */
const DNS_NAMESPACE = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) {
    throw new Error(`Not a UUID: ${uuid}`);
  }
  return Buffer.from(hex, 'hex');
}

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
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

/** UUID version 5 (RFC 4122 §4.3: SHA-1 of namespace bytes + UTF-8 name). */
export function uuidV5(name: string, namespace: string): string {
  const digest = createHash('sha1').update(namespaceBytes(namespace)).update(name, 'utf8').digest();
  const bytes = Buffer.from(digest.subarray(0, 16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return formatUuid(bytes);
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
 */
export function deterministicId(inputs: IdInputs): string {
  const name = [
    inputs.councilOds.toUpperCase(),
    inputs.sourceSystem,
    inputs.key,
    inputs.resourceType,
    inputs.kind ?? '',
    inputs.index === undefined ? '' : String(inputs.index),
  ].join(SEP);
  return uuidV5(name, JOINEDUP_NAMESPACE);
}
