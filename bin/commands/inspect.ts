// `fishnet ports` and `fishnet stats`: read a running `fishnet up` through its control socket.
import { readdirSync } from 'node:fs';
import { controlRequest, runDir } from '../../embed/control.ts';
import type { FilterView } from '../../embed/machine.ts';
import { formatIpv4, type Ipv4Addr } from '../../lib/net/index.ts';
import type { Command } from '../cli.ts';
import { columns } from '../demos/common.ts';
import { guarded, machineName, parseFlags, UsageError } from '../flags.ts';

/** --name, or the one machine that is up, or a usage error that lists them. */
function which(name: string | undefined): string {
  if (name !== undefined) return machineName(name);
  let up: string[] = [];
  try {
    up = readdirSync(runDir())
      .filter((f) => f.endsWith('.sock'))
      .map((f) => f.slice(0, -5));
  } catch {
    // no run directory: nothing is up
  }
  if (up.length === 1) return up[0]!;
  throw new UsageError(
    up.length === 0
      ? `no machine is up (nothing in ${runDir()}); start one with 'fishnet up'`
      : `several machines are up (${up.join(', ')}): choose one with --name`,
  );
}

function reader(
  op: 'ports' | 'filters' | 'stats',
  summary: string,
  table: (result: unknown) => string,
): Command {
  return {
    summary,
    usage: `usage: fishnet ${op} [--name NAME] [--json]\n\n  --name NAME  the machine (default: the only one up)\n  --json       print JSON`,
    run: (argv) =>
      guarded(op, async () => {
        const { values } = parseFlags(argv, { name: { type: 'string' }, json: { type: 'boolean' } });
        const name = which(values.name);
        let result: unknown;
        try {
          result = await controlRequest(name, op);
        } catch (e) {
          console.error(`fishnet ${op}: ${(e as Error).message}`);
          return 1;
        }
        console.log(values.json ? JSON.stringify(result, null, 2) : table(result));
        return 0;
      }),
  };
}

interface PortRow {
  type: string;
  port: number;
  owner: number;
  ownerName?: string;
  state: string;
  filterId?: number;
  rxFrames?: number;
  txFrames?: number;
}

function portsTable(result: unknown): string {
  const rows = result as PortRow[];
  if (rows.length === 0) return 'no open ports';
  const lines = [['PROTO', 'PORT', 'OWNER', 'STATE', 'FILTER', 'RX', 'TX']];
  for (const r of rows) {
    lines.push([
      r.type,
      String(r.port),
      `${r.ownerName ?? '?'} #${r.owner}`,
      r.state,
      String(r.filterId ?? '-'),
      String(r.rxFrames ?? 0),
      String(r.txFrames ?? 0),
    ]);
  }
  return columns(lines).join('\n');
}

function filtersTable(result: unknown): string {
  const rows = result as FilterView[];
  if (rows.length === 0) return 'no filters';
  const n = (v: number | null) => (v === null ? '-' : String(v));
  return columns([
    ['FILTER', 'KIND', 'FOR', 'OWNER', 'RX BUF', 'TX BUF', 'RX FRAMES', 'RX BYTES', 'TX FRAMES', 'TX BYTES'],
    ...rows.map((f) => [
      n(f.id),
      f.kind,
      f.for,
      `${f.ownerName} #${f.owner}`,
      n(f.rxBuffer),
      n(f.txBuffer),
      String(f.rxFrames),
      n(f.rxBytes),
      n(f.txFrames),
      n(f.txBytes),
    ]),
  ]).join('\n');
}

/** Numeric leaves of `v` that are not zero, as `path=value` (arrays and addresses aside). */
function counters(v: unknown, skip: readonly string[] = [], path = ''): string[] {
  if (typeof v === 'number') return v !== 0 && Number.isFinite(v) ? [`${path}=${v}`] : [];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [];
  return Object.entries(v).flatMap(([k, x]) =>
    skip.includes(k) ? [] : counters(x, skip, path ? `${path}.${k}` : k),
  );
}

/** `label: a=1 b=2 ...`, wrapped at about 100 columns under the label. */
function wrapped(label: string, items: string[]): string[] {
  if (items.length === 0) return [`${label}: (all zero)`];
  const out: string[] = [];
  let line = `${label}:`;
  for (const it of items) {
    if (line.length + it.length + 1 > 100 && line.trim() !== `${label}:`) {
      out.push(line);
      line = ' '.repeat(label.length + 1);
    }
    line += ` ${it}`;
  }
  out.push(line);
  return out;
}

const dotted = (a: unknown) => (typeof a === 'number' && a !== 0 ? formatIpv4(a as Ipv4Addr) : '-');
const prefix = (mask: number) => (mask === 0 ? 0 : 32 - Math.log2(2 ** 32 - mask));

function statsTable(result: unknown): string {
  const s = result as {
    machine: string;
    mac: string;
    address?: { ip: number; mask: number; gw: number };
    lease?: {
      address: number;
      server: number;
      leaseSeconds: number;
      renewInS: number | null;
      expiresInS: number | null;
    } | null;
    apps: { app: string; port?: number; actor: number; state: string; stats: unknown }[];
    nic: unknown;
    driver: { clients?: { actor: number; name: string }[] };
    netd: unknown;
  };
  const a = s.address;
  const l = s.lease;
  const out = [
    `${s.machine} (${s.mac})  address ${a ? `${dotted(a.ip)}/${prefix(a.mask)}` : '-'}  gateway ${dotted(a?.gw)}`,
    l
      ? `lease: ${dotted(l.address)} from ${dotted(l.server)} for ${l.leaseSeconds} s; renews in ${l.renewInS ?? 'never'} s, expires in ${l.expiresInS ?? 'never'} s`
      : 'lease: none (a static address)',
    ...wrapped('nic', counters(s.nic)),
    ...wrapped('driver', counters(s.driver, ['clients', 'filters', 'mac', 'defaultBuffer'])),
  ];
  for (const c of s.driver.clients ?? []) {
    out.push(...wrapped(`  client ${c.name} #${c.actor}`, counters(c, ['actor', 'rxBuffers', 'txBuffers'])));
  }
  out.push(...wrapped('netd', counters(s.netd)));
  for (const x of s.apps) {
    out.push(
      ...wrapped(`app ${x.app}${x.port ? `:${x.port}` : ''} #${x.actor} ${x.state}`, counters(x.stats)),
    );
  }
  out.push('(counters that are zero are left out; --json has them all)');
  return out.join('\n');
}

export const ports = reader('ports', "list a running machine's open ports, owners and filters", portsTable);
export const filters = reader(
  'filters',
  "list a running machine's filters, their owners and hit counts",
  filtersTable,
);
export const stats = reader(
  'stats',
  "show a running machine's counters (NIC, driver, netd, apps)",
  statsTable,
);
