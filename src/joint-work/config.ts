import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** config/joint-work.json: response deadlines per request kind, the duplicate-assessment window, bank holidays. */
export interface JointWorkConfig {
  responseWorkingDays: Readonly<Record<string, number>>;
  defaultResponseWorkingDays: number;
  duplicateAssessmentWindowDays: number;
  /** England and Wales bank holidays, YYYY-MM-DD. */
  bankHolidays: ReadonlySet<string>;
}

export const DEFAULT_CONFIG_FILE = fileURLToPath(new URL('../../config/joint-work.json', import.meta.url));

interface ConfigFile {
  responseWorkingDays?: Record<string, number>;
  defaultResponseWorkingDays?: number;
  duplicateAssessmentWindowDays?: number;
  bankHolidays?: string;
}

export function loadJointWorkConfig(file: string = DEFAULT_CONFIG_FILE, overrides: Partial<JointWorkConfig> = {}): JointWorkConfig {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as ConfigFile;
  const days = raw.responseWorkingDays ?? {};
  for (const [k, v] of Object.entries(days)) {
    if (!Number.isInteger(v) || v < 0 || v > 60) throw new Error(`${file}: responseWorkingDays.${k} must be a whole number of working days (0-60)`);
  }
  const holidaysFile = raw.bankHolidays ? join(dirname(file), raw.bankHolidays) : undefined;
  const dates = holidaysFile ? ((JSON.parse(readFileSync(holidaysFile, 'utf8')) as { dates?: string[] }).dates ?? []) : [];
  for (const d of dates) if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) throw new Error(`${holidaysFile}: "${d}" is not a date (YYYY-MM-DD)`);
  return {
    responseWorkingDays: days,
    defaultResponseWorkingDays: raw.defaultResponseWorkingDays ?? 5,
    duplicateAssessmentWindowDays: raw.duplicateAssessmentWindowDays ?? 28,
    bankHolidays: new Set(dates),
    ...overrides,
  };
}
