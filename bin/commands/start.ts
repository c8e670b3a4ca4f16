// `fishnet start` (what `npm start` runs): the embedded default. A peer machine runs
// a DHCP server; machine m1 boots and leases its address from it; echo clients on
// m1 answer traffic that generators on the peer drive at them. A live view refreshes
// in place on a terminal (plain lines otherwise), then a summary. No root, nothing
// to set up.
import type UdpEcho from '../../actors/apps/udp-echo.ts';
import { APPS } from '../../embed/apps.ts';
import { createNetwork, type FishnetMachine, type FishnetNetwork } from '../../embed/fishnet.ts';
import { formatIpv4 } from '../../lib/net/index.ts';
import type { ActorRef, ApiOf } from '../../runtime/index.ts';
import type { Command } from '../cli.ts';
import { columns, dropsOnTheWay, settled, sleep, TRAFFIC, type Traffic } from '../demos/common.ts';
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
    out(
      `fishnet: ${plural(o.n, 'echo client')} on m1; the peer sends each ${o.rate} datagrams/s for ${o.seconds} s`,
    );
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
    // Let the last echoes land: until every one is back, or none comes for a second.
    await settled(async () => {
      let n = 0;
      for (const c of clients) {
        const g = (await c.gen.api.counters()).generator;
        n += g.sent - g.replies;
      }
      return n;
    });

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
    if (sent > replies)
      out(`  where they went, as counted on the way: ${await whereLost(net, m1, peer, clients)}`);
    out(`round trips: ${rtts.join('; ')}`);
    out(
      `m1: ${plural(inspect.ports.length, 'port')} open, ${plural(inspect.filters.length, 'filter')}; the NIC missed ${plural(d.device.missedPackets, 'frame')}; ` +
        `${plural(d.rx.unclaimed, 'frame')} went to netd (no filter claimed them)`,
    );
    out('all stopped: machines, drivers, netd, applications');
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    await net.close();
  }
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/**
 * Every counter a datagram of the peer's, or its echo, can end in, non-zero only: the
 * generators' stacks and sends, the links, the switch and both NICs, both drivers (for the echo clients on m1
 * and the generators on the peer), the echo clients' stacks and sends.
 */
async function whereLost(
  net: FishnetNetwork,
  m1: FishnetMachine,
  peer: FishnetMachine,
  clients: readonly Client[],
): Promise<string> {
  const found: Record<string, number> = {};
  const add = (where: string, counts: Record<string, number> | undefined) => {
    for (const [k, v] of Object.entries(counts ?? {}))
      if (v > 0) found[`${where} ${k}`] = (found[`${where} ${k}`] ?? 0) + v;
  };
  type Drv = {
    device: { missedPackets: number };
    clients: { actor: number; rxDropped: Record<string, number> }[];
  };
  const [d1, dp] = [(await m1.inspect()).driver as Drv, (await peer.inspect()).driver as Drv];
  add('', await dropsOnTheWay(net, m1, peer)); // peerLink, switch, m1Link, m1DeviceMissed, peerDeviceMissed
  for (const c of clients) {
    add(
      'peer generators: stack',
      (await c.gen.api.stats()).stack.dropped as unknown as Record<string, number>,
    );
    add('peer generators: send', (await c.gen.api.counters()).generator.sendErrors as Record<string, number>);
    add('peer driver, for the generators:', dp.clients.find((x) => x.actor === c.gen.id)?.rxDropped);
    add('m1 driver, for the echo clients:', d1.clients.find((x) => x.actor === c.echo.id)?.rxDropped);
    add(
      'm1 echo clients: stack',
      (await c.echo.api.stats()).stack.dropped as unknown as Record<string, number>,
    );
    add('m1 echo clients: send', (await c.echo.api.counters()).sendErrors as Record<string, number>);
  }
  const list = Object.entries(found).map(([k, v]) => `${k} ${v}`);
  return list.length > 0 ? list.join(', ') : 'nothing counted a drop (late echoes still on their way)';
}

async function snapshot(
  m1: FishnetMachine,
  clients: readonly Client[],
  last: Map<number, { at: number; echoed: number }>,
) {
  // The echo counters first, the machine's after: a frame is counted in before it is echoed.
  const echoes = await Promise.all(clients.map((c) => c.echo.api.counters()));
  const now = performance.now();
  const v = await m1.inspect();
  const drv = v.driver as { clients: { actor: number; rxDropped: Record<string, number> }[] };
  const marks = new Map<number, { at: number; echoed: number }>();
  const rows = [];
  for (const [i, c] of clients.entries()) {
    const e = echoes[i]!;
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
