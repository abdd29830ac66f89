import { describe, expect, test } from 'vitest';
import { backends } from '../support/backends.ts';
import { testPatient } from '../support/fixtures.ts';
import { suiteServer } from '../support/test-server.ts';

describe.each(backends())('values longer than the index keeps ($name)', (backend) => {
  const s = suiteServer(backend);

  test('a 3,000-character identifier and a 1,000-character family name are stored and still find their resource', async () => {
    const longValue = `L${'x'.repeat(3000)}`;
    const longFamily = `Testperson${'é'.repeat(1000)}`; // URL-encoded it stays under Node's 16 KiB request-line limit
    const created = await s.request(
      'POST',
      'Patient',
      testPatient(901, {
        identifier: [{ system: 'https://example.org/council-person-id', value: longValue }],
        name: [{ family: longFamily }],
      })
    );
    expect(created.status).toBe(201);
    const byId = await s.request('GET', `Patient?identifier=https://example.org/council-person-id|${longValue}`);
    expect(byId.body.total).toBe(1);
    const byExact = await s.request('GET', `Patient?family:exact=${encodeURIComponent(longFamily)}`);
    expect(byExact.body.total).toBe(1);
  });
});
