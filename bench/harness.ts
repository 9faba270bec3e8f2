/**
 * The benchmark harness: each benchmark measures Hodei and a baseline in the
 * same process run, several times, and reports medians, spreads and the
 * ratio, so numbers from a noisy shared machine still mean something.
 */
export interface Samples {
  /** What Hodei did, one number per repetition. */
  values: number[];
  /** The baseline, measured in the same run; empty when there is none. */
  baseline: number[];
}

export interface Target {
  /** "below": the median must be under `value`; "above": over it. */
  direction: "below" | "above";
  value: number;
}

export interface Benchmark {
  id: string;
  title: string;
  /** What one sample is, in a sentence. */
  measures: string;
  baselineDescription: string | null;
  unit: string;
  target: Target | null;
  repetitions: number;
  run(repetitions: number): Promise<Samples>;
  /** What limits the figure when it misses its target, from a profile. */
  limits?: string;
}

export interface Result {
  id: string;
  title: string;
  measures: string;
  unit: string;
  baselineDescription: string | null;
  median: number;
  min: number;
  max: number;
  baselineMedian: number | null;
  ratio: number | null;
  target: Target | null;
  met: boolean | null;
  samples: Samples;
  limits: string | null;
  error?: string;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function measure(b: Benchmark): Promise<Result> {
  const base = {
    id: b.id,
    title: b.title,
    measures: b.measures,
    unit: b.unit,
    baselineDescription: b.baselineDescription,
    target: b.target,
    limits: b.limits ?? null,
  };
  try {
    const samples = await b.run(b.repetitions);
    const m = median(samples.values);
    const baselineMedian = samples.baseline.length > 0 ? median(samples.baseline) : null;
    const met = b.target === null ? null : b.target.direction === "below" ? m < b.target.value : m > b.target.value;
    return {
      ...base,
      median: m,
      min: Math.min(...samples.values),
      max: Math.max(...samples.values),
      baselineMedian,
      ratio: baselineMedian ? m / baselineMedian : null,
      met,
      samples,
    };
  } catch (error) {
    return {
      ...base,
      median: NaN,
      min: NaN,
      max: NaN,
      baselineMedian: null,
      ratio: null,
      met: false,
      samples: { values: [], baseline: [] },
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    };
  }
}

export function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  return fn().then((value) => ({ ms: performance.now() - start, value }));
}
