import { describe, expect, test } from 'vitest';
import { redactQuery } from '../../src/audit/query-redaction.ts';

describe('query redaction for AuditEvent.entity.query', () => {
  test.each([
    ['_count=10&_sort=-date&status=active,completed', '_count=10&_sort=-date&status=active,completed'],
    ['patient=Patient/3f1c2a9e-5b7d-4e21-9c3a-0a1b2c3d4e5f', 'patient=Patient/3f1c2a9e-5b7d-4e21-9c3a-0a1b2c3d4e5f'],
    ['identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919', 'identifier=https://fhir.nhs.uk/Id/nhs-number|[redacted]'],
    ['identifier=9434765919,https://council.example/id|C123', 'identifier=[redacted],https://council.example/id|[redacted]'],
    ['family=Smith&given:exact=Ann&phone=07700900123&email=a%40b.c&gender=female', 'family=[redacted]&given%3Aexact=[redacted]&phone=[redacted]&email=[redacted]&gender=[redacted]'],
    ['subject:Patient.identifier=943%20476%205919', 'subject%3APatient.identifier=[redacted]'],
    ['code=943 476 5919', 'code=[redacted]'],
    ['patient=Smith&_id=p1', 'patient=[redacted]&_id=[redacted]'],
    ['_content=lives%20alone&_text=x&_page=eyJvZmZzZXQiOjEwfQ', '_content=[redacted]&_text=[redacted]&_page=[redacted]'],
    ['', ''],
  ])('%s', (input, expected) => {
    expect(redactQuery(input)).toBe(expected);
  });

  test('a leading ? is ignored', () => {
    expect(redactQuery('?_count=1')).toBe('_count=1');
  });
});
