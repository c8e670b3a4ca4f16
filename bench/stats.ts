// Small helpers shared by the benchmarks: percentiles, and writing results as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

export function summarize(samples: number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: s.length,
    p50: round(q(0.5)),
    p99: round(q(0.99)),
    min: round(s[0]!),
    max: round(s[s.length - 1]!),
    mean: round(s.reduce((a, b) => a + b, 0) / s.length),
  };
}

export function machine(): Record<string, unknown> {
  return {
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    date: new Date().toISOString(),
  };
}

/**
 * Where a benchmark's output goes: bench/out/ (ignored by git), so that running the
 * benchmarks leaves the working tree clean; with --save, bench/results/, the runs
 * that are committed on purpose (README quotes them).
 */
export function resultPath(file: string): URL {
  const dir = new URL(process.argv.includes('--save') ? './results/' : './out/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  return new URL(file, dir);
}

export function writeResult(name: string, result: unknown): string {
  const path = resultPath(`${name}.json`);
  writeFileSync(path, `${JSON.stringify({ machine: machine(), ...(result as object) }, null, 2)}\n`);
  return path.pathname;
}
