import type { AuditEvent } from '@medplum/fhirtypes';
import { readArchive } from '../audit/archive-file.ts';
import { toAuditEvent } from './audit-bundle.ts';

/**
 * The AuditEvents of an archive file, one per archived record, as the IG API
 * returns them (toAuditEvent: id = seq, the chain hash in meta): an
 * exchange's event rendered from the facts its row stores, any other record
 * as stored. An archive keeps rows exactly as hashed so that it verifies on
 * its own; this is how an IG lead reads it as FHIR once the rows have left
 * the database. The review state is the one stored on the row (the IG API
 * derives it from later review rows, which may not be in the file).
 */
export async function* archiveAuditEvents(path: string): AsyncGenerator<AuditEvent> {
  const { rows } = await readArchive(path);
  for await (const row of rows) yield toAuditEvent(row);
}
