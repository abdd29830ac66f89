import { CARE_SCENARIOS } from './scenario-cases-care.ts';
import { OTHER_SCENARIOS } from './scenario-cases-other.ts';
import { OVERRIDE_SCENARIOS } from './scenario-cases-override.ts';
import type { Scenario } from './scenario-kit.ts';

/**
 * The gate's scenario table (issue #5): plain data, replayable in-process
 * (scenarios.test.ts) and through the HTTP API by another harness, and the
 * source of the table in docs/lawful-basis.md (scripts/lawful-basis-table.ts).
 */
export const SCENARIOS: Scenario[] = [...CARE_SCENARIOS, ...OVERRIDE_SCENARIOS, ...OTHER_SCENARIOS];

export { SCENARIO_AGREEMENTS, type AgreementId } from './scenario-agreements.ts';
export {
  ORGS,
  ORG_KINDS,
  DEFAULT_NOW,
  BREAK_GLASS_WINDOW_MS,
  factsFromScenario,
  policyFromScenario,
  queryFromScenario,
  type ConsentSpec,
  type PersonSpec,
  type ProvisionSpec,
  type Scenario,
} from './scenario-kit.ts';
