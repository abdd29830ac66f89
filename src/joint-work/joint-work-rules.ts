import type { CareTeam, ServiceRequest, Task } from '@medplum/fhirtypes';
import { resourceLabels } from '../gate/labels/resource-labels.ts';
import type { WriteRuleInput, WriteRuleResult, WriteRules } from '../fhir/repo/write-rules-port.ts';
import { checkCareTeam } from './care-team-rules.ts';
import type { JointWorkConfig } from './config.ts';
import { loadJointWorkConfig } from './config.ts';
import { londonDate } from './deadlines.ts';
import { checkDuplicateAssessment } from './duplicate-assessments.ts';
import { checkRequestTask, checkServiceRequest } from './workflow-rules.ts';

/**
 * The joint-work rules (issue #7 items 1, 3, 4) as the repository's write
 * rules: every FHIR write and every council push that writes through a
 * repository given these. docs/joint-work.md.
 */
export function jointWorkRules(config: JointWorkConfig = loadJointWorkConfig(), clock: () => Date = () => new Date()): WriteRules {
  return {
    async check(input: WriteRuleInput): Promise<WriteRuleResult> {
      const now = clock();
      const writerOds = input.context.actor?.organisation.ods;
      switch (input.resource.resourceType) {
        case 'CareTeam':
          return { issues: checkCareTeam(input.resource as CareTeam, londonDate(now)) };
        case 'ServiceRequest':
          return { issues: checkServiceRequest(input.resource as ServiceRequest) };
        case 'Task': {
          const task = input.resource as Task & { id: string };
          const previous = input.previous as Task | undefined;
          const flow = checkRequestTask(task, previous, writerOds, config, now);
          if (flow.issues.length) return { issues: flow.issues };
          const result: WriteRuleResult = { issues: [], ...(flow.amended ? { resource: flow.amended as Task & { id: string } } : {}) };
          const patientId = resourceLabels(task, input.baseUrl).patientId;
          if (!previous && patientId) {
            result.issues = await checkDuplicateAssessment({
              sql: input.sqlReading?.({ patientId, resourceTypes: ['Task'] }) ?? input.sql,
              sqlWriting: input.sqlWriting ?? input.sql,
              task: (flow.amended as (Task & { id: string }) | undefined) ?? task,
              patientId,
              writerOds,
              windowDays: config.duplicateAssessmentWindowDays,
              mayRead: input.mayRead,
              now,
            });
          }
          return result;
        }
        default:
          return { issues: [] };
      }
    },
  };
}
