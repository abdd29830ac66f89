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
  sql: SqlClient;
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
