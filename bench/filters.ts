// Filter benchmark: the VM, the JIT, a linear scan of N filters (the paper's design,
// interpreted; and JIT-compiled for comparison) and the demux index, on the same
// packets, for N = 1 .. 10,000 netd port filters. Results: bench/results/filters.json,
// and a plot of ns per packet against N: bench/results/filters.svg.
import { writeFileSync } from 'node:fs';
import {
  compileFilter,
  DemuxIndex,
  executeFilter,
  jitFilter,
  LinearDemux,
  portRxFilter,
  prepare,
  verifyFilter,
  vmFilter,
} from '../lib/bfdmux/index.ts';
import { arpFrame, mac, port, tcpFrame, udpFrame } from '../lib/net/index.ts';
import { HOST_IP, HOST_MAC, PEER_IP, PEER_MAC } from '../test/helpers/frames.ts';
import { logLogPlot } from './plot.ts';
import { resultPath, writeResult } from './stats.ts';

const quick = process.argv.includes('--quick');
const NS = [1, 10, 100, 1000, 10000];
const BASE_PORT = 10000;

const rxFilter = (i: number) =>
  compileFilter(portRxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'udp', port: port(BASE_PORT + i) }));

/** 256 packets: 3 in 4 to one of the N ports (so the linear scan finds its match on average halfway), the rest to nobody. */
function packets(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 256; i++) {
    const k = i % 4;
    if (k < 3) {
      out.push(
        udpFrame({
          dstMac: HOST_MAC,
          srcMac: PEER_MAC,
          src: PEER_IP,
          dst: HOST_IP,
          srcPort: 40000,
          dstPort: BASE_PORT + ((i * 7919) % n),
          payload: new Uint8Array(64),
        }),
      );
    } else if (i % 8 === 3) {
      out.push(
        tcpFrame({
          dstMac: HOST_MAC,
          srcMac: PEER_MAC,
          src: PEER_IP,
          dst: HOST_IP,
          srcPort: 40000,
          dstPort: 80,
          seq: 0,
          flags: 2,
        }),
      );
    } else {
      out.push(
        arpFrame({
          dstMac: mac('ff:ff:ff:ff:ff:ff'),
          srcMac: PEER_MAC,
          op: 1,
          senderMac: PEER_MAC,
          senderIp: PEER_IP,
          targetMac: mac('00:00:00:00:00:00'),
          targetIp: HOST_IP,
        }),
      );
    }
  }
  return out;
}

/** Timings on this shared machine vary from round to round: keep every round. */
interface Timing {
  median: number;
  min: number;
  max: number;
}

const ROUNDS = 7;

/**
 * Nanoseconds per call of `f` over the packets: ROUNDS rounds of budgetMs / ROUNDS
 * each, after a warm-up; the median is the result, min and max its spread.
 */
function nsPer(f: (p: Uint8Array) => number, ps: Uint8Array[], budgetMs: number): Timing {
  // A timing loop of its own for every measurement: a shared one would see many
  // functions at its call site, stop inlining them, and time the call, not the filter.
  const loop = new Function(
    'f',
    'ps',
    'ms',
    `let sink = 0, calls = 0;
     const t0 = performance.now();
     let t = t0;
     do {
       for (let i = 0; i < ps.length; i++) sink += f(ps[i]);
       calls += ps.length;
       t = performance.now();
     } while (t - t0 < ms);
     return sink === -1 ? -1 : ((t - t0) * 1e6) / calls;`,
  ) as (f: (p: Uint8Array) => number, ps: Uint8Array[], ms: number) => number;
  loop(f, ps, budgetMs / ROUNDS); // warm up
  const rounds = Array.from({ length: ROUNDS }, () => loop(f, ps, budgetMs / ROUNDS)).sort((a, b) => a - b);
  return { median: rounds[ROUNDS >> 1]!, min: rounds[0]!, max: rounds[ROUNDS - 1]! };
}

const perSecond = (t: Timing) => ({
  median: Math.round(1e9 / t.median),
  best: Math.round(1e9 / t.min),
  worst: Math.round(1e9 / t.max),
});

export async function filtersBench(): Promise<unknown> {
  const budget = quick ? 300 : 1400;
  const single = rxFilter(0);
  const ps1 = packets(1);
  const vm = prepare(single.program);
  const jit = jitFilter(single.program);
  const vmNs = nsPer((p) => executeFilter(vm, p, p.length), ps1, budget);
  const jitNs = nsPer((p) => jit(p, p.length), ps1, budget);
  const matching = ps1.filter((_, i) => i % 4 < 3);
  const vmMatchNs = nsPer((p) => executeFilter(vm, p, p.length), matching, budget);
  const jitMatchNs = nsPer((p) => jit(p, p.length), matching, budget);
  const m = (t: Timing) =>
    `${(1000 / t.median).toFixed(1)} M/s [${(1000 / t.max).toFixed(1)}..${(1000 / t.min).toFixed(1)}]`;
  console.log(`netd RX port filter, median [worst..best] of ${ROUNDS} rounds:`);
  console.log(`  VM  ${m(vmNs)}; on matching packets ${m(vmMatchNs)}`);
  console.log(`  JIT ${m(jitNs)}; on matching packets ${m(jitMatchNs)}`);

  const rows: Record<string, number>[] = [];
  const out = new Int32Array(16);
  for (const n of NS) {
    const codes = Array.from({ length: n }, (_, i) => rxFilter(i).code);
    const ps = packets(n);
    const index = new DemuxIndex<number>();
    const linearVm = new LinearDemux<number>(vmFilter);
    const linearJit = new LinearDemux<number>((c) => jitFilter(programOf(c)));
    codes.forEach((c, i) => {
      index.register(i, c, i);
      linearVm.register(i, c, i);
      linearJit.register(i, c, i);
    });
    // Same answers from all three, on every packet, before timing anything.
    for (const p of ps) {
      const a = linearVm.first(p);
      if (index.first(p) !== a || linearJit.first(p) !== a) throw new Error(`disagreement at N=${n}`);
    }
    const scanBudget = n >= 1000 ? budget * 2 : budget;
    const scan = n >= 1000 ? ps.slice(0, 32) : ps;
    const idx = nsPer((p) => index.classify(p, p.length, out), ps, budget);
    const lvm = nsPer((p) => linearVm.classify(p, p.length, out), scan, scanBudget);
    const ljit = nsPer((p) => linearJit.classify(p, p.length, out), scan, scanBudget);
    rows.push({
      n,
      indexNs: idx.median,
      indexBestNs: idx.min,
      indexWorstNs: idx.max,
      linearVmNs: lvm.median,
      linearJitNs: ljit.median,
    });
    console.log(
      `N=${n}: index ${idx.median.toFixed(1)} ns [${idx.min.toFixed(1)}..${idx.max.toFixed(1)}] (${(1000 / idx.median).toFixed(1)} M/s), linear VM ${lvm.median.toFixed(0)} ns, linear JIT ${ljit.median.toFixed(0)} ns`,
    );
  }
  const at = (n: number) => rows.find((r) => r.n === n)!;
  const result = {
    packets: 'per N: 256 frames, 3 in 4 UDP to one of the N ports, the rest TCP or ARP to no port',
    filter: single.expression,
    rounds: ROUNDS,
    single: {
      vm: perSecond(vmNs),
      jit: perSecond(jitNs),
      vmMatchingPackets: perSecond(vmMatchNs),
      jitMatchingPackets: perSecond(jitMatchNs),
    },
    byN: rows.map((r) => ({
      n: r.n,
      indexNs: round(r.indexNs!),
      indexNsBest: round(r.indexBestNs!),
      indexNsWorst: round(r.indexWorstNs!),
      indexPerSecond: Math.round(1e9 / r.indexNs!),
      linearVmNs: round(r.linearVmNs!),
      linearJitNs: round(r.linearJitNs!),
    })),
    ratios: {
      indexAt10000OverAt1: round(at(10000).indexNs! / at(1).indexNs!),
      linearVmOverIndexAt10000: Math.round(at(10000).linearVmNs! / at(10000).indexNs!),
    },
    targets: {
      vmPerSecond: 10e6,
      jitPerSecond: 50e6,
      indexPerSecondAt10000: 10e6,
      indexAt10000OverAt1Max: 2,
      linearOverIndexMin: 1000,
    },
  };
  const svg = logLogPlot('Demultiplexing N port filters', 'N filters', 'ns per packet', [
    { name: 'linear scan, VM (paper)', color: '#c0392b', points: rows.map((r) => [r.n!, r.linearVmNs!]) },
    {
      name: 'linear scan, JIT',
      color: '#e67e22',
      dashed: true,
      points: rows.map((r) => [r.n!, r.linearJitNs!]),
    },
    { name: 'demux index', color: '#2471a3', points: rows.map((r) => [r.n!, r.indexNs!]) },
    {
      name: 'one filter, VM',
      color: '#7f8c8d',
      dashed: true,
      points: NS.map((n) => [n, vmNs.median] as [number, number]),
    },
    {
      name: 'one filter, JIT',
      color: '#27ae60',
      dashed: true,
      points: NS.map((n) => [n, jitNs.median] as [number, number]),
    },
  ]);
  const svgPath = resultPath('filters.svg');
  writeFileSync(svgPath, svg);
  console.log(`wrote ${writeResult('filters', result)} and ${svgPath.pathname}`);
  return result;
}

function programOf(code: Uint8Array) {
  const v = verifyFilter(code);
  if (!v.ok) throw new Error(v.reason);
  return v.program;
}

const round = (x: number) => Math.round(x * 100) / 100;

if (import.meta.url === `file://${process.argv[1]}`) {
  await filtersBench();
}
