import { describe, expect, test } from 'vitest';
import { routeShape } from './app.ts';

describe('routeShape keeps personal data out of logs', () => {
  test.each([
    ['/fhir/Patient/9000000009', '/fhir/Patient/:id'],
    ['/fhir/Patient/9000000009/_history/2', '/fhir/Patient/:id/_history/:id'],
    ['/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009', '/fhir/Patient'],
    ['/fhir/Patient/abc/$everything', '/fhir/Patient/:id/$everything'],
    ['/fhir/9000000009', '/fhir/:id'],
    ['/Zoe-Testperson/x', '/:id/:id'],
    ['/fhir/metadata', '/fhir/metadata'],
    ['/council/v1/schema', '/council/v1/schema'],
    ['/auth/token', '/auth/token'],
    ['/ig/audit.csv?patient=Zoe', '/ig/audit.csv'],
    ['/ig/reviews/42', '/ig/reviews/:id'],
    ['/ig/what-if', '/ig/what-if'],
    ['/ig/Zoe-Testperson', '/ig/:id'],
  ])('%s → %s', (input, shape) => {
    expect(routeShape(input)).toBe(shape);
  });
});
