/** Median and range of repeated measurements. */
export interface Agg {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function agg(values: readonly number[]): Agg {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const median = n % 2 === 1 ? v[(n - 1) / 2]! : (v[n / 2 - 1]! + v[n / 2]!) / 2;
  return { median, min: v[0]!, max: v[n - 1]!, n };
}

/** Number formatting for tables: 3 significant digits, thousands without decimals. */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return "–";
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a < 0.001) return x.toExponential(1);
  return x.toPrecision(digits);
}

/** "10.2 (9.8-10.4)" */
export function fmtAgg(a: Agg, digits = 3): string {
  if (a.n === 0) return "–";
  if (a.n === 1 || a.min === a.max) return fmt(a.median, digits);
  return `${fmt(a.median, digits)} (${fmt(a.min, digits)}–${fmt(a.max, digits)})`;
}
