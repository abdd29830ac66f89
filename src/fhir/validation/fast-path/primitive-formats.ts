import { fhirTypeToJsType, isValidCalendarDate, validationRegexes } from '@medplum/core';

/*
 * The checks @medplum/core 5.2.13 makes of a primitive value
 * (ResourceValidator.validatePrimitiveType and the validateString /
 * validateNumber / validateBase64Binary it calls), answering only "would it
 * report anything". The regexes and the calendar check are medplum's own
 * exports, so a format rule cannot drift from the validator it stands in for.
 */

const JS_TYPES = fhirTypeToJsType as Record<string, 'string' | 'boolean' | 'number' | undefined>;
const REGEXES = validationRegexes as Record<string, RegExp | undefined>;

const FHIR_INTEGER_MIN = -2_147_483_648;
const FHIR_INTEGER_MAX = 2_147_483_647;
/** medplum's default `base64BinaryMaxBytes`; the gateway never overrides it. */
const BASE64_MAX_BYTES = 1024 * 1024;
const MAX_STRING_LENGTH = 1024 * 1024;

/** True when `type` is one medplum treats as primitive (its isPrimitiveType, minus the 'undefined' pseudo-type). */
export function isPrimitiveTypeCode(type: string): boolean {
  return JS_TYPES[type] !== undefined;
}

/**
 * True when medplum would report nothing for `value` as a FHIR `type`
 * primitive. Only plain JSON values reach here: an object in a primitive's
 * place (medplum crawls it as an Element) is the caller's cue to give up.
 */
export function isValidPrimitive(type: string, value: unknown): boolean {
  const expected = JS_TYPES[type];
  if (expected === undefined || typeof value !== expected) {
    return false;
  }
  if (type === 'base64Binary') {
    return isValidBase64Binary(value as string);
  }
  if (expected === 'string') {
    return isValidString(value as string, type);
  }
  if (expected === 'number') {
    return isValidNumber(value as number, type);
  }
  return true; // boolean
}

function isValidString(str: string, type: string): boolean {
  if (!str.trim() || str.length > MAX_STRING_LENGTH) {
    return false;
  }
  const regex = REGEXES[type];
  if (regex && !regex.exec(str)) {
    return false;
  }
  if ((type === 'date' || type === 'dateTime' || type === 'instant') && !isValidCalendarDate(str)) {
    return false;
  }
  return true;
}

function isValidNumber(n: number, type: string): boolean {
  if (Number.isNaN(n) || !Number.isFinite(n)) {
    return false;
  }
  const integral = type === 'integer' || type === 'positiveInt' || type === 'unsignedInt';
  if (integral && !Number.isInteger(n)) {
    return false;
  }
  if (type === 'integer') {
    return n >= FHIR_INTEGER_MIN && n <= FHIR_INTEGER_MAX;
  }
  if (type === 'positiveInt') {
    return n >= 1 && n <= FHIR_INTEGER_MAX;
  }
  if (type === 'unsignedInt') {
    return n >= 0 && n <= FHIR_INTEGER_MAX;
  }
  return true;
}

/** medplum's isValidBase64Binary plus its approximate decoded-size limit. */
function isValidBase64Binary(str: string): boolean {
  if (str.length === 0) {
    return false;
  }
  let padding = 0;
  if (str.endsWith('==')) {
    padding = 2;
  } else if (str.endsWith('=')) {
    padding = 1;
  }
  const dataLen = str.length - padding;
  if ((padding + dataLen) % 4 !== 0) {
    return false;
  }
  const dataPart = padding > 0 ? str.slice(0, -padding) : str;
  if (!/^[A-Za-z\d+/]+$/.test(dataPart)) {
    return false;
  }
  const approxBytes = Math.max(0, Math.floor((str.length * 3) / 4) - padding);
  return approxBytes <= BASE64_MAX_BYTES;
}
