import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { SqlClient } from '../../db/sql-client.ts';
import type { RequestContext } from '../../request-context.ts';

/**
 * Business rules on writes (issue #7: joint work, src/joint-work/), kept as
 * narrow as the gate port. The repository calls `check` for every version it
 * is about to store, after validation and the gate's write check, inside the
 * write's transaction (so anything a rule records rolls back with it).
 *
 * Issues of severity error/fatal refuse the write (422, OperationOutcome with
 * the issues); information/warning issues are kept on the repository
 * (`PgRepository.notes`, shared by a transaction's child repositories) for
 * the HTTP layer to return with the answer.
 */
export interface WriteRuleInput {
  /** For reads: everything written so far in the transaction is visible. */
  sql: SqlClient;
  /**
   * For a read that depends only on one person's current rows of some types:
   * the same answers as `sql`, but an import batch's buffered versions of
   * other people and types need not be sent first. Defaults to `sql`.
   */
  sqlReading?(scope: { patientId: string; resourceTypes: readonly string[] }): SqlClient;
  /**
   * For a statement that writes: part of the version's record, undone with it
   * if the record is refused later (an import batch takes the record's
   * savepoint first). Defaults to `sql`.
   */
  sqlWriting?: SqlClient;
  /** The version about to be stored (id and meta set). */
  resource: Resource & { id: string };
  /** The stored current version; undefined for a create (or a re-create after delete). */
  previous: Resource | undefined;
  context: RequestContext;
  /** The FHIR base URL (for absolute local references). */
  baseUrl: string;
  /** Whether the requester may read this stored resource (the gate's read decision, audited as one; true without a gate). */
  mayRead(resourceType: string, id: string): Promise<boolean>;
}

export interface WriteRuleResult {
  issues: OperationOutcomeIssue[];
  /** A version to store instead (e.g. with a computed deadline); validated again. */
  resource?: Resource & { id: string };
}

export interface WriteRules {
  check(input: WriteRuleInput): Promise<WriteRuleResult>;
}

/** An informational issue a write rule raised, with the resource written. */
export interface WriteNote {
  ref: string;
  issue: OperationOutcomeIssue;
}
