/**
 * Order statistics for continuous-variable measures. Nearest rank (the
 * smallest value with at least p% of observations at or below it): always a
 * value that occurred, so a hand count on a few requests gives the same
 * answer, and 90th percentile of whole working days stays a whole number.
 * The median is the usual one: the mean of the two middle values when even.
 */
export function median(values: readonly number[]): number | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function percentileNearestRank(values: readonly number[], p: number): number | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[rank - 1];
}
