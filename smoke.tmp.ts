import { createValidator } from './src/fhir/validation/validator.ts';
const v = createValidator();
const show = (label: string, r: any) => console.log(label, JSON.stringify(v.validate(r), null, 0));
const pat = { resourceType: 'Patient', meta: { profile: ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient'] },
  identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009', extension: [{ url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus', valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland', code: '01', display: 'Number present and verified' }] } }] }],
  name: [{ use: 'official', family: 'Testperson', given: ['Ada'] }], gender: 'female', birthDate: '1950-01-01',
  generalPractitioner: [{ reference: 'Organization/gp1', identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Z99999' } }] };
show('valid', pat);
show('badnhs', { ...pat, identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765918' }] });
show('two nhs', { ...pat, identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009' }, { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765919' }] });
show('novalue', { ...pat, identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number' }] });
show('gender x', { ...pat, gender: 'x' });
show('gp', { ...pat, generalPractitioner: [{ reference: 'Practitioner/1', identifier: { system: 'urn:x', value: 'abc' } }] });
show('gp2', { ...pat, generalPractitioner: [{ reference: 'Practitioner/1' }] });
show('vs', { ...pat, identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009', extension: [{ url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus', valueCodeableConcept: { coding: [{ system: 'x', code: '99' }] } }] }] });
show('unknownprof', { ...pat, meta: { profile: ['http://example.org/p'] }, foo: 1 });
const cp = { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: 'Patient/p1' }, category: [{ coding: [{ system: 'http://snomed.info/sct', code: '734163000' }] }, { text: 'other' }] };
show('cp ok', cp);
show('cp two social', { ...cp, category: [cp.category[0], cp.category[0]] });
show('cp nosubject', { ...cp, subject: undefined });
show('cp group', { ...cp, subject: { reference: 'Group/1' } });
show('cp bogus', { ...cp, status: 'bogus', intent: 'nope' });
show('cp nhs ref', { ...cp, subject: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765918' } } });
show('task', { resourceType: 'Task', status: 'bogus', intent: 'order' });
show('null', null as any);
show('x', { resourceType: 'Nope' } as any);
console.log(v.registry.parseCount);
let t = performance.now(); for (let i = 0; i < 3000; i++) v.validate(cp as any); console.log('cp/s', 3000 / ((performance.now() - t) / 1000));
t = performance.now(); for (let i = 0; i < 3000; i++) v.validate(pat as any); console.log('pat/s', 3000 / ((performance.now() - t) / 1000));
console.log(v.registry.parseCount);
