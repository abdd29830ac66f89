import type { Resource } from '@medplum/fhirtypes';
import type { SqlClient } from '../../db/sql-client.ts';

/**
 * What the repository asks of the lawful-basis gate (src/gate/enforce/), kept
 * narrow like HAPI FHIR's consent interceptor: every read, search, include,
 * history and $everything passes its rows through `filter`, every write
 * through `checkWrite`. The repository never decides anything itself.
 */
export interface LabelRow {
  resource_type: string;
  id: string;
  patient_id: string | null;
  data_class: string | null;
  controller: string | null;
  third_party: string | null;
}

export interface WriteCheck {
  resourceType: string;
  id: string;
  /** Labels of the version being written. */
  patientId?: string;
  dataClass?: string;
  /** The stored record's controller, when it exists; undefined for a create. */
  controller?: string;
  /** The labels the stored version had, when they differ (moving a resource between people is decided for both). */
  previousPatientId?: string;
}

export interface AccessGate {
  /** The rows the requester may see, in their order; the others are as if they did not exist. */
  filter<T extends LabelRow>(sql: SqlClient, rows: readonly T[], operation: 'read' | 'search'): Promise<T[]>;
  /** Throws an OperationOutcomeError (403) when the write is not permitted. */
  checkWrite(sql: SqlClient, write: WriteCheck): Promise<void>;
  /**
   * Facts about these people may have changed (a write): cached facts are
   * dropped. `created` is the version just written when it created the
   * resource (no row of it existed), which an import batch can apply to the
   * facts in memory (src/council/push/batch-gate.ts).
   */
  changed(patientIds: readonly string[], created?: Resource): void;
  /**
   * The transaction holding those writes committed: drop the facts again, as
   * a read between the write and the commit may have cached the old ones.
   */
  committed(): void;
}

export const LABEL_COLUMNS = 'r.resource_type, r.id, r.patient_id, r.data_class, r.controller, r.third_party';

/** The exchange's audit, recorded inside each write transaction just before it commits (issue #6). */
export interface TransactionAudit {
  inTransaction(tx: SqlClient, written: readonly string[]): Promise<void>;
  /** Several writes of one transaction (one group each), audited as inTransaction would, in one append. */
  inTransactionGroups?(tx: SqlClient, groups: readonly (readonly string[])[]): Promise<void>;
}
