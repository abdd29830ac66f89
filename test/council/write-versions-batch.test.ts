import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database, SqlClient } from '../../src/db/sql-client.ts';
import { statementName } from '../../src/db/sql-client.ts';
import { MAX_VERSIONS_PER_STATEMENT, writeVersions } from '../../src/fhir/repo/write-versions.ts';
import type { VersionToWrite } from '../../src/fhir/repo/write-versions.ts';
import { loadBaseSchema } from '../../src/fhir/schema.ts';
import { backends } from '../support/backends.ts';

const AT = '2026-11-21T10:00:00.000Z';

/** Invented organisations: no personal data. */
function versions(prefix: string, n: number, versionId = 1): VersionToWrite[] {
  return Array.from({ length: n }, (_, i) => {
    const resource: Resource & { id: string } = { resourceType: 'Organization', id: `${prefix}-${i}`, name: `Test organisation ${i} v${versionId}`, active: true };
    return { resource, versionId, lastUpdated: AT, method: versionId === 1 ? 'create' : 'update' };
  });
}

/** The client, with the name each statement was sent under. */
function naming(db: SqlClient): { sql: SqlClient; sent: { text: string; name: string | undefined; params: number }[] } {
  const sent: { text: string; name: string | undefined; params: number }[] = [];
  return {
    sent,
    sql: {
      query: (text, params, name) => {
        sent.push({ text, name, params: params?.length ?? 0 });
        return db.query(text, params, name);
      },
      exec: (text) => db.exec(text),
    },
  };
}

describe.each(backends())('writeVersions for a whole batch ($name)', (backend) => {
  let db: Database;
  beforeAll(async () => {
    loadBaseSchema();
    db = await backend.open();
  });
  afterAll(async () => {
    await db?.close();
  });
  const count = async (sql: string, params: unknown[] = []): Promise<number> => (await db.query<{ n: number }>(sql, params)).rows[0]!.n;

  test('more versions than one statement takes: chunked, every one stored once with its index rows, contents exact', async () => {
    const n = MAX_VERSIONS_PER_STATEMENT + 3;
    let sent: { name: string | undefined; params: number }[] = [];
    await db.transaction(async (tx) => {
      const inner = naming(tx);
      await writeVersions(inner.sql, versions('chunk', n));
      sent = inner.sent;
    });
    // 1,000 then 3: each content a parameter of its own, padded to 1,024 and 8.
    expect(sent).toHaveLength(2);
    expect(sent[0]!.name).not.toBe(sent[1]!.name);
    expect(await count("SELECT count(*)::int AS n FROM resource WHERE id LIKE 'chunk-%'")).toBe(n);
    expect(await count("SELECT count(*)::int AS n FROM resource_version WHERE id LIKE 'chunk-%'")).toBe(n);
    expect(await count("SELECT count(*)::int AS n FROM sp_string WHERE id LIKE 'chunk-%' AND code = 'name'")).toBe(n);
    const last = await db.query<{ content: string }>("SELECT content FROM resource WHERE resource_type = 'Organization' AND id = $1", [`chunk-${n - 1}`]);
    expect(JSON.parse(last.rows[0]!.content)).toEqual(versions('chunk', n)[n - 1]!.resource);
  });

  test('a second version of some of them replaces their index rows; statement names follow the text, and a few texts serve every size', async () => {
    await writeVersions(db, versions('size', 5));
    const sent: { text: string; name: string | undefined }[] = [];
    await db.transaction(async (tx) => {
      const inner = naming(tx);
      await writeVersions(inner.sql, versions('size', 3, 2));
      await writeVersions(inner.sql, versions('size', 2, 3));
      sent.push(...inner.sent);
    });
    expect(await count("SELECT count(*)::int AS n FROM resource_version WHERE id LIKE 'size-%'")).toBe(10);
    expect(await count("SELECT count(*)::int AS n FROM sp_string WHERE id LIKE 'size-%' AND code = 'name'")).toBe(5);
    expect(await count("SELECT count(*)::int AS n FROM sp_string WHERE id = 'size-0' AND code = 'name' AND value LIKE '%v3'")).toBe(1);
    // 3 and 2 versions: the same padded text, so the same prepared statement.
    expect(sent).toHaveLength(2);
    expect(sent[0]!.text).toBe(sent[1]!.text);
    expect(sent[0]!.name).toBe(statementName('wv', sent[0]!.text));
    expect(sent[0]!.name).toMatch(/^wv_[0-9a-f]{20}$/);
  });
});
