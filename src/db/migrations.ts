import type { Database } from './sql-client.ts';

/**
 * Versioned schema migrations, applied in order at start. Never edit a
 * released migration: add a new one. The same SQL runs on PostgreSQL and PGlite.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'resource store and search indexes',
    sql: `
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Current version of every resource; deleted resources keep a tombstone row
-- so a read answers 410 Gone and the version sequence continues.
CREATE TABLE resource (
  resource_type text NOT NULL,
  id text NOT NULL,
  version_id integer NOT NULL,
  last_updated timestamptz NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  content text,
  PRIMARY KEY (resource_type, id)
);
CREATE INDEX resource_last_updated_idx ON resource (resource_type, last_updated, id) WHERE NOT deleted;

-- Every version ever written (vread, _history). Append-only by convention.
CREATE TABLE resource_version (
  resource_type text NOT NULL,
  id text NOT NULL,
  version_id integer NOT NULL,
  last_updated timestamptz NOT NULL,
  method text NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  content text,
  PRIMARY KEY (resource_type, id, version_id)
);
CREATE INDEX resource_version_type_time_idx ON resource_version (resource_type, last_updated);

-- Search indexes: one row per indexed value of the current version.
CREATE TABLE sp_token (
  resource_type text NOT NULL,
  id text NOT NULL,
  code text NOT NULL,
  system text,
  value text
);
CREATE INDEX sp_token_value_idx ON sp_token (resource_type, code, value, system);
CREATE INDEX sp_token_res_idx ON sp_token (resource_type, id);

CREATE TABLE sp_string (
  resource_type text NOT NULL,
  id text NOT NULL,
  code text NOT NULL,
  value text NOT NULL,   -- lower case, accents removed: default and :contains matching
  exact text NOT NULL    -- as written: :exact matching
);
CREATE INDEX sp_string_prefix_idx ON sp_string (resource_type, code, value text_pattern_ops);
CREATE INDEX sp_string_exact_idx ON sp_string (resource_type, code, exact);
CREATE INDEX sp_string_trgm_idx ON sp_string USING gin (value gin_trgm_ops);
CREATE INDEX sp_string_res_idx ON sp_string (resource_type, id);

CREATE TABLE sp_reference (
  resource_type text NOT NULL,
  id text NOT NULL,
  code text NOT NULL,
  target_type text,
  target_id text,
  reference text,        -- absolute or otherwise unresolvable references, as written
  ident_system text,     -- Reference.identifier, for :identifier
  ident_value text
);
CREATE INDEX sp_reference_target_idx ON sp_reference (resource_type, code, target_id, target_type);
CREATE INDEX sp_reference_rev_idx ON sp_reference (target_type, target_id);
CREATE INDEX sp_reference_ident_idx ON sp_reference (resource_type, code, ident_value) WHERE ident_value IS NOT NULL;
CREATE INDEX sp_reference_res_idx ON sp_reference (resource_type, id);

CREATE TABLE sp_date (
  resource_type text NOT NULL,
  id text NOT NULL,
  code text NOT NULL,
  low timestamptz NOT NULL,
  high timestamptz NOT NULL
);
CREATE INDEX sp_date_range_idx ON sp_date (resource_type, code, low, high);
CREATE INDEX sp_date_res_idx ON sp_date (resource_type, id);
`,
  },
  {
    version: 2,
    name: 'client registry, assertion replay memory, gateway signing keys',
    sql: `
-- Registered client systems (SMART Backend Services), one organisation each.
CREATE TABLE client (
  client_id text PRIMARY KEY,
  organisation_ods text NOT NULL,
  organisation_name text NOT NULL,
  organisation_kind text NOT NULL,
  jwks text,
  jwks_uri text,
  scopes text[] NOT NULL,
  purposes text[] NOT NULL,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((jwks IS NULL) <> (jwks_uri IS NULL))
);

-- Every client assertion jti seen, until it expires: replays are caught
-- after a restart and across instances (RFC 7523 section 3, item 7).
CREATE TABLE assertion_jti (
  client_id text NOT NULL,
  jti text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_jti_expiry_idx ON assertion_jti (expires_at);

-- The gateway's own keys for signing access tokens. A retired key still
-- verifies tokens until they expire.
CREATE TABLE signing_key (
  kid text PRIMARY KEY,
  private_jwk text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz
);
`,
  },
  {
    version: 3,
    name: 'council record ledger',
    sql: `
-- One row per council source record ever pushed (live or tombstone): the
-- newest source last-updated time seen, so an older push is refused (409),
-- and the resources it produced, so a tombstone knows what to retire.
CREATE TABLE council_record (
  council_ods text NOT NULL,
  source_system text NOT NULL,
  record_id text NOT NULL,
  record_type text NOT NULL,
  source_last_updated timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  resources text[] NOT NULL DEFAULT '{}',
  deleted boolean NOT NULL DEFAULT false,
  PRIMARY KEY (council_ods, source_system, record_id)
);
`,
  },
  {
    version: 4,
    name: 'lawful-basis gate: resource labels, sharing agreements, opt-outs, break-glass windows',
    sql: `
-- What the gate needs to know of each stored resource without parsing it:
-- the person it is about, its data class, the organisation controlling it,
-- and, for a carer's details in someone else's record, that carer's
-- identifier ("system|value"). Written in the same statement as the version.
ALTER TABLE resource ADD COLUMN patient_id text;
ALTER TABLE resource ADD COLUMN data_class text;
ALTER TABLE resource ADD COLUMN controller text;
ALTER TABLE resource ADD COLUMN third_party text;
CREATE INDEX resource_patient_idx ON resource (patient_id) WHERE patient_id IS NOT NULL;

-- Information sharing agreements, every version kept; the newest version of
-- an id is the one in force (within its period, unless ended).
CREATE TABLE sharing_agreement (
  id text NOT NULL,
  version integer NOT NULL,
  content jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  PRIMARY KEY (id, version)
);

-- National Data Opt-out status per person, loaded by the operator (the
-- national service is out of reach); keyed by NHS number.
CREATE TABLE data_opt_out (
  nhs_number text PRIMARY KEY,
  opted_out boolean NOT NULL,
  loaded_at timestamptz NOT NULL DEFAULT now()
);

-- Rule 9's time box: one window per user, person and declared justification.
CREATE TABLE break_glass_window (
  client_id text NOT NULL,
  user_id text NOT NULL,
  patient_id text NOT NULL,
  justification_hash text NOT NULL,
  opened_at timestamptz NOT NULL,
  PRIMARY KEY (client_id, user_id, patient_id, justification_hash)
);
CREATE INDEX break_glass_patient_idx ON break_glass_window (patient_id);
`,
  },
  {
    version: 5,
    name: 'audit: append-only, hash-chained audit_event and the archive anchor',
    sql: `
-- One row per exchange (IHE BALP AuditEvent in content, canonical JSON), plus
-- the columns IG searches on. hash = sha256(prev_hash || header || content),
-- where header is the canonical JSON array of the searchable columns, so an
-- edit to either is detected (src/audit/hash-chain.ts, ADR 0010). Appends
-- serialise on an advisory lock, so seq order is chain order.
CREATE TABLE audit_event (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recorded timestamptz NOT NULL,
  patient_id text,
  client_id text,
  org_ods text,
  user_id text,
  purpose text,
  outcome text NOT NULL CHECK (outcome IN ('permit', 'deny', 'permit-withheld', 'error')),
  action text NOT NULL CHECK (action IN ('C', 'R', 'U', 'D', 'E')),
  subtype text NOT NULL,
  lawful_basis text,
  override text CHECK (override IN ('break-glass', 'safeguarding')),
  -- 'pending' on an override when written; a review is a NEW row
  -- ('reviewed', reviews_seq = the override's seq), never an UPDATE.
  review_state text CHECK (review_state IN ('pending', 'reviewed')),
  reviews_seq bigint,
  content text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE INDEX audit_event_patient_idx ON audit_event (patient_id, recorded);
CREATE INDEX audit_event_org_idx ON audit_event (org_ods, recorded);
CREATE INDEX audit_event_recorded_idx ON audit_event (recorded);
CREATE INDEX audit_event_pending_idx ON audit_event (review_state) WHERE review_state = 'pending';
CREATE INDEX audit_event_reviews_idx ON audit_event (reviews_seq) WHERE reviews_seq IS NOT NULL;

-- Where the chain continues after archiving: one row per archive run (itself
-- append-only); the newest row's hash is the prev_hash of the first record left.
CREATE TABLE audit_chain_anchor (
  through_seq bigint PRIMARY KEY,
  hash text NOT NULL,
  archived_count bigint NOT NULL,
  before timestamptz NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only. UPDATE is never allowed. DELETE only inside an archive
-- transaction (SET LOCAL joinedup.audit_archive = 'on') and only of rows the
-- newest anchor already covers, so archiving can remove a prefix of the chain
-- and nothing else. This guards against mistakes and the application role;
-- a table owner or superuser can still disable the trigger, which is what the
-- hash chain (and the exported head hash) is for.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  -- Nested IFs: OLD does not exist in the statement-level (TRUNCATE) trigger.
  IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_event'
     AND current_setting('joinedup.audit_archive', true) = 'on' THEN
    IF OLD.seq <= (SELECT max(through_seq) FROM audit_chain_anchor) THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END
$fn$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_chain_anchor_append_only BEFORE UPDATE OR DELETE ON audit_chain_anchor
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_chain_anchor_no_truncate BEFORE TRUNCATE ON audit_chain_anchor
  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
`,
  },
  {
    version: 6,
    name: 'subscriptions: who subscribed, and the delivery queue',
    sql: `
-- Who created (or last changed) each Subscription, as authenticated then: the
-- gate decides every notification as a read by this actor (src/subscriptions/).
-- Identifiers only, never a user's name.
CREATE TABLE subscription_owner (
  subscription_id text PRIMARY KEY,
  client_id text NOT NULL,
  actor jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- Notifications waiting to be sent (a reference to what changed, never content):
-- claimed with a lease (next_attempt_at moved forward), deleted when delivered,
-- not matched, withheld by the gate, or out of attempts.
CREATE TABLE subscription_delivery (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subscription_id text NOT NULL,
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscription_delivery_due_idx ON subscription_delivery (next_attempt_at);
CREATE INDEX subscription_delivery_subscription_idx ON subscription_delivery (subscription_id);
`,
  },
  {
    version: 7,
    name: 'joint work: duplicate assessments noticed',
    sql: `
-- One row each time an assessment Task was created while another of the same
-- kind for the same person was open within the window (src/joint-work/
-- duplicate-assessments.ts). disclosed: the writer could see the earlier one
-- and was pointed at it (the "duplicates avoided" measure counts these).
-- References and codes only, never content.
CREATE TABLE joint_work_duplicate (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  noticed_at timestamptz NOT NULL DEFAULT now(),
  organisation text,
  patient_id text NOT NULL,
  task_id text NOT NULL,
  existing_task_id text NOT NULL,
  kind text NOT NULL,
  disclosed boolean NOT NULL
);
CREATE INDEX joint_work_duplicate_noticed_idx ON joint_work_duplicate (noticed_at, organisation);
`,
  },
  {
    version: 8,
    name: 'audit: indexes for IG searches by user, purpose and lawful basis',
    sql: `
-- IG searches by one of these alone over 1,000,000 events need them to stay
-- under 100 ms p99 (bench/ig-search.ts: 479 / 145 / 144 ms without, 8 / 6 /
-- 10 ms with); they cost about 20% on bulk audit inserts.
CREATE INDEX audit_event_user_idx ON audit_event (user_id, recorded);
CREATE INDEX audit_event_purpose_idx ON audit_event (purpose, recorded);
CREATE INDEX audit_event_lawful_basis_idx ON audit_event (lawful_basis, recorded);
`,
  },
  {
    version: 9,
    name: 'audit: append a batch to the chain in one call',
    sql: `
-- One round trip per batch instead of three (lock + isolation check, chain
-- head, INSERT), so the chain lock is held for server-side work and the
-- COMMIT only, not for client round trips (src/audit/audit-writer.ts).
-- The caller passes the columns, the canonical header and content of each
-- record; the hashes are computed here, byte for byte as chainHash in
-- src/audit/hash-chain.ts: sha256 over the UTF-8 of prev_hash || header ||
-- content, lower-case hex. Runs in the caller's transaction, so the lock is
-- held until it ends and the audit commits or rolls back with the data.
-- VOLATILE and READ COMMITTED: each statement below takes a fresh snapshot,
-- so the head read after the lock is granted sees every append committed
-- before it (one SQL statement would not: its snapshot predates the wait).
CREATE FUNCTION audit_append(
  p_recorded timestamptz[], p_patient_id text[], p_client_id text[], p_org_ods text[],
  p_user_id text[], p_purpose text[], p_outcome text[], p_action text[], p_subtype text[],
  p_lawful_basis text[], p_override text[], p_review_state text[], p_reviews_seq bigint[],
  p_header text[], p_content text[]
) RETURNS bigint[] LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  iso text := current_setting('transaction_isolation');
  n integer := coalesce(array_length(p_content, 1), 0);
  prev text;
  prevs text[] := '{}';
  hashes text[] := '{}';
  seqs bigint[];
BEGIN
  IF iso <> 'read committed' THEN
    RAISE EXCEPTION 'audit appends need READ COMMITTED, not %', iso USING ERRCODE = 'invalid_transaction_state';
  END IF;
  IF coalesce(array_length(p_header, 1), 0) <> n OR coalesce(array_length(p_recorded, 1), 0) <> n
     OR array_position(p_header, NULL) IS NOT NULL OR array_position(p_content, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'audit_append: header and content arrays must match the records' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF n = 0 THEN
    RETURN '{}';
  END IF;
  PERFORM pg_advisory_xact_lock(7243006);
  -- The newest record's hash, else the archive anchor's, else genesis.
  SELECT hash INTO prev FROM (
    (SELECT 0 AS src, hash FROM audit_event ORDER BY seq DESC LIMIT 1)
    UNION ALL (SELECT 1, hash FROM audit_chain_anchor ORDER BY through_seq DESC LIMIT 1)
  ) h ORDER BY src LIMIT 1;
  prev := coalesce(prev, repeat('0', 64));
  FOR i IN 1 .. n LOOP
    prevs[i] := prev;
    prev := encode(sha256(convert_to(prev || p_header[i] || p_content[i], 'UTF8')), 'hex');
    hashes[i] := prev;
  END LOOP;
  -- Ordered by ordinality, so identity values are drawn in chain order.
  WITH ins AS (
    INSERT INTO audit_event (recorded, patient_id, client_id, org_ods, user_id, purpose, outcome, action,
                             subtype, lawful_basis, override, review_state, reviews_seq, content, prev_hash, hash)
    SELECT recorded, patient_id, client_id, org_ods, user_id, purpose, outcome, action,
           subtype, lawful_basis, override, review_state, reviews_seq, content, prev_hash, hash
      FROM unnest(p_recorded, p_patient_id, p_client_id, p_org_ods, p_user_id, p_purpose, p_outcome, p_action,
                  p_subtype, p_lawful_basis, p_override, p_review_state, p_reviews_seq, p_content, prevs, hashes)
           WITH ORDINALITY AS u(recorded, patient_id, client_id, org_ods, user_id, purpose, outcome, action,
                                subtype, lawful_basis, override, review_state, reviews_seq, content, prev_hash, hash, ord)
     ORDER BY ord
    RETURNING seq
  )
  SELECT array_agg(seq ORDER BY seq) INTO seqs FROM ins;
  RETURN seqs;
END
$fn$;
`,
  },
  {
    version: 10,
    name: 'IG web page: sessions shared by every instance',
    sql: `
-- Sessions of the IG web page (src/ig-web/session.ts), in the database so
-- several instances share them and a restart signs nobody out. Only the
-- sha256 of the cookie's session id is stored: a copy of this table does not
-- let anyone sign in. user_json is the signed-in IG user (id, display name,
-- role, organisation); oidc_pending the state, nonce and PKCE verifier of a
-- single sign-on under way (taken once by the callback).
CREATE TABLE ig_web_session (
  id_hash text PRIMARY KEY,
  csrf text NOT NULL,
  user_json jsonb,
  audit_ref text NOT NULL,
  oidc_pending jsonb,
  created_at timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX ig_web_session_expires_idx ON ig_web_session (expires_at);
`,
  },
  {
    version: 11,
    name: 'audit: lz4 for the AuditEvent text',
    sql: `
-- Every audited exchange stores ~2-3.5 kB of canonical AuditEvent JSON, which
-- PostgreSQL compresses on insert and decompresses on every verify. pglz (the
-- default) costs ~3x lz4's time both ways (docs/performance.md, the audit
-- sections); the text is ~15% larger. Only new rows use it: old ones stay
-- pglz and read as before, and the stored text (so every hash) is unchanged.
-- Builds without lz4 (PGlite) keep pglz.
DO $do$
BEGIN
  ALTER TABLE audit_event ALTER COLUMN content SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END
$do$;
`,
  },
  {
    version: 12,
    name: 'resources: lz4 for the stored JSON',
    sql: `
-- Every resource version is written twice (current row and history) as
-- ~1.5 kB of JSON, which PostgreSQL compresses on insert: pglz was the
-- largest single cost of an import in PostgreSQL's own CPU profile (issue 4;
-- lz4 compresses several times faster, and decompresses faster on every
-- read). Only new rows use it: old ones stay pglz and read as before. The
-- stored text is unchanged. Builds without lz4 (PGlite) keep pglz.
DO $do$
BEGIN
  ALTER TABLE resource ALTER COLUMN content SET COMPRESSION lz4;
  ALTER TABLE resource_version ALTER COLUMN content SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END
$do$;
`,
  },
];

/**
 * Applies pending migrations. An advisory lock makes concurrent starts of
 * several instances on one PostgreSQL safe: one migrates, the others wait.
 */
export async function migrate(db: Database): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(7243001)');
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migration (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = await tx.query<{ version: number }>('SELECT version FROM schema_migration');
    const applied = new Set(done.rows.map((r) => r.version));
    const ran: number[] = [];
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) {
        continue;
      }
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migration (version, name) VALUES ($1, $2)', [m.version, m.name]);
      ran.push(m.version);
    }
    return ran;
  });
}

export async function pendingMigrations(db: Database): Promise<number> {
  const r = await db.query<{ version: number }>('SELECT version FROM schema_migration');
  const applied = new Set(r.rows.map((x) => x.version));
  return MIGRATIONS.filter((m) => !applied.has(m.version)).length;
}
