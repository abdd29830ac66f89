import { z } from 'zod';
import { CouncilRecord } from './format/index.ts';

export const COUNCIL_SCHEMA_ID = 'https://joinedup.org.uk/council/v1/schema';

let cached: { schema: Record<string, unknown>; json: string } | undefined;

/**
 * The JSON Schema (draft 2020-12) of the council format v1, generated from
 * the zod schemas (z.toJSONSchema) once and cached. It describes the shape,
 * codes and patterns; rules that span fields (end after start, dates not in
 * the future, NHS number check digits, who may decide a consent) are checked
 * only by the gateway (parseCouncilRecord).
 */
export function councilJsonSchema(): Record<string, unknown> {
  return load().schema;
}

/** The same schema, serialised once. */
export function councilJsonSchemaText(): string {
  return load().json;
}

function load(): { schema: Record<string, unknown>; json: string } {
  if (!cached) {
    const generated = z.toJSONSchema(CouncilRecord, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    const { $schema, ...rest } = generated;
    const schema = deepFreeze({ $schema, $id: COUNCIL_SCHEMA_ID, ...rest });
    cached = { schema, json: JSON.stringify(schema) };
  }
  return cached;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
