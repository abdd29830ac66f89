import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCouncilRecord, toJsonPath } from './index.ts';

function example(name: string): Record<string, any> {
  return JSON.parse(readFileSync(new URL(`../../../docs/examples/council/${name}`, import.meta.url), 'utf8'));
}

function paths(json: unknown): string[] {
  const r = parseCouncilRecord(json);
  return r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('toJsonPath', () => {
  it('writes dotted names, indexes and bracketed odd names', () => {
    expect(toJsonPath([])).toBe('$');
    expect(toJsonPath(['person', 'nhsNumber'])).toBe('$.person.nhsNumber');
    expect(toJsonPath(['members', 0, 'period', 'end'])).toBe('$.members[0].period.end');
    expect(toJsonPath(['odd-name', "it's"])).toBe("$['odd-name']['it\\'s']");
  });
});

describe('cross-field rules', () => {
  it('consent by a deputy needs the decision maker, their order reference and a capacity assessment showing a lack of capacity', () => {
    const r = example('consent-deputy.json');
    delete r.decisionMaker.authorityRef;
    r.capacity.hasCapacity = true;
    expect(paths(r)).toEqual([
      '$.capacity.hasCapacity: a person with capacity decides for themselves: decidedBy deputy needs hasCapacity false',
      '$.decisionMaker.authorityRef: an deputyship order reference is required',
    ]);
    delete r.decisionMaker;
    delete r.capacity;
    expect(paths(r)).toEqual(['$.decisionMaker: a decision by deputy needs the decision maker', '$.capacity: a decision by deputy needs the capacity assessment']);
  });

  it('a person assessed as lacking capacity cannot decide for themselves', () => {
    const r = example('consent.json');
    r.capacity.hasCapacity = false;
    expect(paths(r)).toEqual([expect.stringMatching(/^\$\.decidedBy: the person was assessed as lacking capacity/)]);
  });

  it('consent scope: "any" or a non-empty ODS list', () => {
    const r = example('consent.json');
    r.scope.organisations = [];
    expect(paths(r)).toEqual(['$.scope.organisations: list at least one organisation, or "any"']);
    r.scope.organisations = 'all';
    expect(paths(r)).toEqual(['$.scope.organisations: organisations must be "any" or a list of ODS codes']);
  });

  it('care plan goals and activities must point at needs and goals in the plan', () => {
    const r = example('care-plan.json');
    r.goals[1].needIds = ['N9'];
    r.activities[3].goalIds = ['G1', 'G7'];
    r.needs[2].id = 'N1';
    expect(paths(r)).toEqual([
      '$.needs[2].id: id "N1" appears twice in needs',
      '$.goals[1].needIds[0]: no need with id "N9" in this plan',
      '$.goals[2].needIds[0]: no need with id "N3" in this plan',
      '$.activities[3].goalIds[1]: no goal with id "G7" in this plan',
    ]);
  });

  it('an activity says who delivers it', () => {
    const r = example('care-plan.json');
    r.activities[0].deliveredBy = { kind: 'robot' };
    expect(paths(r)).toEqual(['$.activities[0].deliveredBy.kind: deliveredBy.kind must be one of: organisation, practitioner, related-person, person']);
  });

  it('a carer needs their own council person id; an attorney needs the LPA reference', () => {
    const r = example('related-person.json');
    delete r.relatedPerson.localId;
    expect(paths(r)).toEqual(['$.relatedPerson.localId: a carer is a person in their own right: give their council person id']);
    const a = example('related-person.json');
    a.relationship = 'lpa-health-welfare';
    expect(paths(a)).toEqual(['$.authority: a lpa-health-welfare needs the lpa reference']);
    a.authority = { kind: 'deputyship', reference: 'COP-1' };
    expect(paths(a)).toEqual(['$.authority.kind: a lpa-health-welfare acts under a lpa']);
    a.authority = { kind: 'lpa', reference: '7000-0000-0001', registeredOn: '2021-04-12' };
    expect(paths(a)).toEqual([]);
  });

  it('periods end after they start; a care team has one current primary contact', () => {
    const r = example('care-team.json');
    r.members[1].role = 'primary-contact';
    r.members[0].period.end = '2026-01-01';
    expect(paths(r)).toEqual(['$.members[0].period.end: must not be before start']);
    delete r.members[0].period.end;
    expect(paths(r)).toEqual(['$.members[1].role: only one current member may be primary-contact (members[0] is already)']);
  });

  it('a safeguarding enquiry closes after it opens; a closed one parses', () => {
    const r = example('safeguarding.json');
    r.closed = '2026-11-01';
    expect(paths(r)).toEqual(['$.closed: must not be before opened']);
    r.closed = r.opened;
    expect(paths(r)).toEqual([]);
  });

  it('a completed assessment needs its end date; an outcome may not be listed twice', () => {
    const r = example('assessment.json');
    delete r.endDate;
    r.eligibility.outcomes[1].outcome = 'managing-nutrition';
    expect(paths(r)).toEqual([
      '$.endDate: a completed assessment needs its endDate',
      '$.eligibility.outcomes[1].outcome: eligibility outcome "managing-nutrition" appears twice',
    ]);
  });

  it('an SDS job role must be a real one', () => {
    const r = example('review.json');
    r.reviewer.sdsJobRole = 'R0000';
    expect(paths(r)).toEqual(['$.reviewer.sdsJobRole: unknown code in code list "SDS job role"']);
  });
});
