/** Settings every benchmark reads from the environment, checked the same way. */
export function benchNumber(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
}

export const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
export const SECONDS = benchNumber('BENCH_SECONDS', 10);
export const WARMUP = benchNumber('BENCH_WARMUP_SECONDS', 2);
export const CONNECTIONS = benchNumber('BENCH_CONNECTIONS', 10);
export const POOL = String(benchNumber('BENCH_POOL_SIZE', 10));
export const ROUNDS = benchNumber('BENCH_ROUNDS', 1);
