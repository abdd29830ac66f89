import { z } from 'zod';

/**
 * profiles/profiles.json: which profile every write of a resource type must
 * conform to, plus aliases from other canonical URLs (UK Core) that clients may
 * claim in meta.profile to the JoinedUp profile that restates them.
 *
 * ```json
 * { "Patient": "https://joinedup.org.uk/...", "aliases": { "https://fhir.hl7.org.uk/...": "https://joinedup.org.uk/..." } }
 * ```
 */
export interface ProfilesConfig {
  byType: Record<string, string>;
  aliases: Record<string, string>;
}

const canonical = z.url();
const schema = z
  .object({ aliases: z.record(canonical, canonical).default({}) })
  .catchall(canonical)
  .superRefine((value, ctx) => {
    for (const key of Object.keys(value)) {
      if (key !== 'aliases' && !/^[A-Z][A-Za-z]+$/.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'expected a resource type' });
      }
    }
  });

export function parseProfilesConfig(json: unknown): ProfilesConfig {
  const result = schema.safeParse(json);
  if (!result.success) {
    throw new Error(`profiles.json is invalid: ${z.prettifyError(result.error)}`);
  }
  const { aliases, ...byType } = result.data;
  return { byType: byType as Record<string, string>, aliases };
}
