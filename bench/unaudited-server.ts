/** The audit benchmark's baseline (bench/audit-run.ts): FHIR exchanges leave no audit record; the gate stays on. */
import { runBaselineServer } from './baseline-server.ts';

await runBaselineServer('UNAUDITED', { unauditedBaselineForBenchmarks: true });
