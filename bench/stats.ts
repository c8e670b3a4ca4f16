// Small helpers shared by the benchmarks: percentiles, and writing results as JSON.
import { writeFileSync } from 'node:fs';
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

export function writeResult(name: string, result: unknown): string {
  const path = new URL(`./results/${name}.json`, import.meta.url);
  writeFileSync(path, `${JSON.stringify({ machine: machine(), ...(result as object) }, null, 2)}\n`);
  return path.pathname;
}
