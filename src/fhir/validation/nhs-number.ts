/** Identifier.system for NHS numbers (England, Wales and the Isle of Man). */
export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';

/** Identifier.system for organisation codes issued by the NHS Organisation Data Service. */
export const ODS_ORGANIZATION_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';

const TEN_DIGITS = /^\d{10}$/;
const ODS_CODE = /^[A-Za-z0-9]{3,10}$/;

/**
 * The modulus 11 check digit for the first nine digits of an NHS number,
 * or undefined when no check digit can make the number valid (remainder 10).
 */
function checkDigit(firstNine: string): number | undefined {
  let sum = 0;
  for (let i = 0; i < 9; i++) {
    sum += (firstNine.charCodeAt(i) - 48) * (10 - i);
  }
  const digit = 11 - (sum % 11);
  if (digit === 11) {
    return 0;
  }
  return digit === 10 ? undefined : digit;
}

/**
 * True when `value` is exactly ten ASCII digits whose last digit is the
 * modulus 11 check digit of the first nine. Spaced forms ("943 476 5919")
 * are rejected: FHIR NHS number identifiers carry the bare ten digits.
 */
export function isValidNhsNumber(value: string): boolean {
  if (typeof value !== 'string' || !TEN_DIGITS.test(value)) {
    return false;
  }
  return checkDigit(value.slice(0, 9)) === value.charCodeAt(9) - 48;
}

/** True when `value` looks like an ODS organisation code (3–10 letters or digits). */
export function isValidOdsCode(value: string): boolean {
  return typeof value === 'string' && ODS_CODE.test(value);
}

/** How many distinct test NHS numbers `makeTestNhsNumber` can produce. */
export const TEST_NHS_NUMBER_CAPACITY = 900_000;

/**
 * A valid NHS number in the 999 range reserved for testing, distinct for every
 * seed in [0, TEST_NHS_NUMBER_CAPACITY).
 *
 * For a fixed eight-digit prefix, the ninth digit has weight 2, so its ten
 * possible values land on ten different remainders mod 11 and at most one of
 * them needs the impossible check digit 10. Every prefix therefore has at least
 * nine usable ninth digits, which gives an injective seed → number mapping.
 */
export function makeTestNhsNumber(seed: number): string {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= TEST_NHS_NUMBER_CAPACITY) {
    throw new RangeError(`seed must be an integer in [0, ${TEST_NHS_NUMBER_CAPACITY})`);
  }
  const prefix = '999' + String(Math.floor(seed / 9)).padStart(5, '0');
  let wanted = seed % 9;
  for (let ninth = 0; ninth <= 9; ninth++) {
    const firstNine = prefix + String(ninth);
    const digit = checkDigit(firstNine);
    if (digit === undefined) {
      continue;
    }
    if (wanted === 0) {
      return firstNine + String(digit);
    }
    wanted--;
  }
  // Unreachable: see the argument above.
  throw new Error(`no valid NHS number for seed ${seed}`);
}
