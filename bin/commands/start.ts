// `fishnet start` (what `npm start` runs): the embedded default. A peer machine runs
// a DHCP server; machine m1 boots and leases its address from it; echo clients on
// m1 answer traffic that generators on the peer drive at them. A live view refreshes
// in place on a terminal (plain lines otherwise), then a summary. No root, nothing
// to set up.
import type UdpEcho from '../../actors/apps/udp-echo.ts';
import { APPS } from '../../embed/apps.ts';
import { createNetwork, type FishnetMachine } from '../../embed/fishnet.ts';
import { formatIpv4 } from '../../lib/net/index.ts';
import type { ActorRef, ApiOf } from '../../runtime/index.ts';
import type { Command } from '../cli.ts';
import { columns, sleep, TRAFFIC, type Traffic } from '../demos/common.ts';
import { guarded, intFlag, parseFlags } from '../flags.ts';

const usage = [
  'usage: fishnet start [--seconds N] [--clients N] [--rate N] [--plain]',
  '',
  '  --seconds N  how long the traffic runs (default 6)',
  '  --clients N  echo clients on m1, 1..8 (default 3)',
  '  --rate N     datagrams a second the peer sends each client (default 2000)',
  '  --plain      plain lines even on a terminal',
].join('\n');

interface Client {
  readonly port: number;
  readonly echo: ActorRef<ApiOf<typeof UdpEcho>>;
  readonly gen: Traffic;
}

export const start: Command = {
  summary: 'boot a machine by DHCP, run echo clients, drive traffic at them, and show it live',
  usage,
  run: (argv) =>
    guarded('start', async () => {
      const { values } = parseFlags(argv, {
        seconds: { type: 'string' },
        clients: { type: 'string' },
        rate: { type: 'string' },
        plain: { type: 'boolean' },
      });
      const seconds = intFlag('seconds', values.seconds, 1, 3600) ?? 6;
      const n = intFlag('clients', values.clients, 1, 8) ?? 3;
      const rate = intFlag('rate', values.rate, 1, 100_000) ?? 2000;
      const live = process.stdout.isTTY === true && !values.plain;
      return show({ seconds, n, rate, live });
    }),
};

async function show(o: { seconds: number; n: number; rate: number; live: boolean }): Promise<number> {
  const out = (l: string) => console.log(l);
  const net = await createNetwork();
  let stopping = false;
  const onSignal = () => {
    stopping = true;
  };
  process.once('SIGINT', onSignal);
  try {
    out('fishnet: booting a peer machine (10.0.0.1) with a DHCP server, on a virtual switch');
    const peer = await net.boot({ name: 'peer', address: '10.0.0.1/24' });
    await peer.spawn({
      name: 'peer/dhcpd',
      module: APPS.dhcpd!.module,
      args: { pool: ['10.0.0.100', '10.0.0.199'], router: '10.0.0.1' },
      lowPorts: true,
    });
    out('fishnet: booting m1; its netd asks for an address by DHCP');
    const t0 = performance.now();
    const m1 = await net.boot({ name: 'm1', address: { dhcp: {} } });
    const a = (await m1.inspect()).address as { ip: number; mask: number };
    const ip = formatIpv4(a.ip as never);
    out(
      `fishnet: m1 (${(await m1.inspect()).mac}) leased ${ip} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const clients: Client[] = [];
    for (let i = 0; i < o.n; i++) {
      const port = i === 0 ? 7 : 7000 + i;
      const echo = (await m1.spawn({
        name: `m1/echo-${port}`,
        module: APPS['udp-echo']!.module,
        args: { port },
        lowPorts: port < 1024,
      })) as ActorRef<ApiOf<typeof UdpEcho>>;
      const gen = (await peer.spawn({
        name: `peer/to-${port}`,
        module: TRAFFIC,
        args: { generate: { address: ip, port, rate: o.rate, size: 64, flow: i + 1 } },
      })) as Traffic;
      clients.push({ port, echo, gen });
    }
    out(`fishnet: ${o.n} echo clients on m1; the peer sends each ${o.rate} datagrams/s for ${o.seconds} s`);
    out('');

    const started = performance.now();
    let lastLines = 0;
    let last = new Map<number, { at: number; echoed: number }>();
    while (!stopping && performance.now() - started < o.seconds * 1000) {
      await sleep(500);
      const view = await snapshot(m1, clients, last);
      last = view.marks;
      const t = ((performance.now() - started) / 1000).toFixed(1);
      if (o.live) {
        const lines = [`t=${t}s  m1 ${ip}  ${view.footer}`, ...view.table];
        // Back over what was drawn, then draw again.
        if (lastLines > 0) process.stdout.write(`\x1b[${lastLines}A`);
        for (const l of lines) process.stdout.write(`\x1b[2K${l}\n`);
        lastLines = lines.length;
      } else {
        out(
          `t=${t}s ${view.rows.map((r) => `echo-${r.port}: ${r.echoed} echoed ${r.rate}/s drops ${r.drops}`).join('; ')}`,
        );
      }
    }
    for (const c of clients) await c.gen.api.stop();
    await sleep(300);

    // The summary.
    out('');
    const inspect = await m1.inspect();
    let sent = 0;
    let replies = 0;
    const rtts: string[] = [];
    for (const c of clients) {
      const g = (await c.gen.api.counters()).generator;
      sent += g.sent;
      replies += g.replies;
      if (g.rttUs) rtts.push(`echo-${c.port} p50 ${g.rttUs.p50} µs, p99 ${g.rttUs.p99} µs`);
    }
    const d = inspect.driver as { device: { missedPackets: number }; rx: { unclaimed: number } };
    out(`summary: the peer sent ${sent} datagrams; ${replies} came back (${sent - replies} missing)`);
    out(`round trips: ${rtts.join('; ')}`);
    out(
      `m1: ${inspect.ports.length} ports open, ${inspect.filters.length} filters; the NIC missed ${d.device.missedPackets} frames; ` +
        `${d.rx.unclaimed} frames went to netd (no filter claimed them)`,
    );
    out('all stopped: machines, drivers, netd, applications');
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    await net.close();
  }
}

async function snapshot(
  m1: FishnetMachine,
  clients: readonly Client[],
  last: Map<number, { at: number; echoed: number }>,
) {
  const v = await m1.inspect();
  const drv = v.driver as { clients: { actor: number; rxDropped: Record<string, number> }[] };
  const marks = new Map<number, { at: number; echoed: number }>();
  const rows = [];
  for (const c of clients) {
    const e = await c.echo.api.counters();
    const now = performance.now();
    const prev = last.get(c.port);
    const rate = prev ? String(Math.round(((e.echoed - prev.echoed) * 1000) / (now - prev.at))) : '-';
    marks.set(c.port, { at: now, echoed: e.echoed });
    const filters = v.filters.filter((f) => f.owner === c.echo.id);
    const dropped = drv.clients.find((x) => x.actor === c.echo.id)?.rxDropped ?? {};
    rows.push({
      port: c.port,
      name: c.echo.name,
      filters: filters.length,
      framesIn: filters.reduce((n, f) => n + f.rxFrames, 0),
      echoed: e.echoed,
      drops: Object.values(dropped).reduce((a, b) => a + b, 0),
      rate,
    });
  }
  const table = columns([
    ['CLIENT', 'PORT', 'FILTERS', 'FRAMES IN', 'DROPS', 'ECHOED', 'ECHOED/s'],
    ...rows.map((r) => [
      `${r.name}`,
      `udp/${r.port}`,
      String(r.filters),
      String(r.framesIn),
      String(r.drops),
      String(r.echoed),
      String(r.rate),
    ]),
  ]);
  const nic = v.nic as { framesIn: number; framesOut: number };
  return {
    rows,
    table,
    marks,
    footer: `NIC in ${nic.framesIn} out ${nic.framesOut}; ${v.ports.length} ports, ${v.filters.length} filters`,
  };
}
