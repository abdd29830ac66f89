import { describe, expect, test } from 'vitest';
import { AutoAnalyze } from './auto-analyze.ts';

describe('AutoAnalyze', () => {
  test('analyses once the threshold plus a fraction of earlier rows is written, one run at a time', async () => {
    let runs = 0;
    const a = new AutoAnalyze(async () => {
      runs++;
    }, 10, 0.5);
    a.note(9);
    expect(runs).toBe(0);
    a.note(1);
    expect(runs).toBe(1);
    a.note(100); // while running: counted, not started
    expect(runs).toBe(1);
    await a.idle();
    a.note(5); // 105 written since; threshold now 10 + 0.5 * 10 = 15
    expect(runs).toBe(2);
    await a.idle();
  });

  test('a failing ANALYZE does not throw into the writer', async () => {
    const a = new AutoAnalyze(() => Promise.reject(new Error('boom')), 1, 0);
    expect(() => a.note(1)).not.toThrow();
    await a.idle();
  });
});
