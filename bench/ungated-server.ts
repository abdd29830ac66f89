/** The gate benchmark's baseline (bench/gate-run.ts): FHIR reads and searches skip the lawful-basis gate, nothing else changes. */
import { runBaselineServer } from './baseline-server.ts';

await runBaselineServer('UNGATED', { ungatedBaselineForBenchmarks: true });
