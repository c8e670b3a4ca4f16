// `fishnet demo kill-client`: three clients on a machine receive UDP traffic from a
// peer; one is killed mid-traffic. netd hears of its end from the runtime (its
// binding ends), closes its ports and deregisters its filters; the driver drops its
// buffers. The demo shows the ports and filters before and after, how long the
// cleanup took, and that the other clients never missed a frame.
import { createNetwork } from '../../embed/fishnet.ts';
import { parseFlags } from '../flags.ts';
import {
  columns,
  type Demo,
  type DemoIo,
  dropsOnTheWay,
  type Flow,
  flowCounts,
  flows,
  landed,
  sleep,
} from './common.ts';

interface PortRow {
  type: string;
  port: number;
  owner: number;
  ownerName: string;
  filterId: number;
  state: string;
}

export const killClient: Demo = {
  about: 'three clients with traffic; one is killed; its ports and filters go, the others lose nothing',
  async run(io: DemoIo, argv: string[]): Promise<number> {
    parseFlags(argv, {}); // it takes none: anything else is a mistake to name
    const net = await createNetwork();
    try {
      io.say('booting m1 (10.0.0.2) and a peer (10.0.0.1) on a virtual switch: NIC, driver, netd each');
      const m1 = await net.boot({ name: 'm1', address: '10.0.0.2/24' });
      const peer = await net.boot({ name: 'peer', address: '10.0.0.1/24' });
      const fs = await flows(m1, peer, '10.0.0.2', [7001, 7002, 7003], 1000);
      for (const f of fs)
        io.say(`${f.name} #${f.sink.id} listens on udp ${f.port}; the peer sends it 1,000 datagrams/s`);
      await sleep(600);

      const snapshot = async () => {
        const v = await m1.inspect();
        return { ports: v.ports as unknown as PortRow[], filters: v.filters };
      };
      const table = (s: Awaited<ReturnType<typeof snapshot>>) =>
        columns([
          ['CLIENT', 'ACTOR', 'PORTS', 'FILTERS', 'FRAMES IN'],
          ...fs.map((f) => {
            const id = f.sink.id;
            const fl = s.filters.filter((x) => x.owner === id);
            return [
              f.name,
              `#${id}`,
              s.ports
                .filter((p) => p.owner === id)
                .map((p) => `${p.type}/${p.port}`)
                .join(' ') || '-',
              String(fl.length),
              String(fl.reduce((n, x) => n + x.rxFrames, 0)),
            ];
          }),
        ]);
      const before = await snapshot();
      io.say('');
      io.say('before:');
      for (const l of table(before)) io.say(`  ${l}`);

      const victim: Flow = fs[1]!;
      const id = victim.sink.id;
      const got = (await victim.sink.api.counters()).sink.received;
      io.say('');
      io.say(`killing ${victim.name} #${id} mid-traffic (it had received ${got} datagrams)`);
      // Resolves when netd and the driver hold nothing of it.
      const observedMs = (await m1.kill(victim.sink)).cleanupMs;
      const after = await snapshot();
      const netdStats = (await m1.machine.netd!.api.statistics()) as {
        ports: { cleanups: { ports: number; ms: number }[] };
      };
      const cleanup = netdStats.ports.cleanups.at(-1);
      const deadPorts = after.ports.filter((p) => p.owner === id).length;
      const deadFilters = after.filters.filter((f) => f.owner === id).length;
      io.say(
        `cleanup: netd closed ${cleanup?.ports ?? '?'} port(s) and deregistered their filters in ${cleanup?.ms.toFixed(2) ?? '?'} ms ` +
          `after it heard of the death (${observedMs.toFixed(1)} ms from kill() as seen from outside)`,
      );
      io.say('after:');
      for (const l of table(after)) io.say(`  ${l}`);

      // More traffic for the survivors, then stop the generators and let the last frames land.
      await sleep(600);
      for (const f of fs) await f.generator.api.stop();
      const survivors = fs.filter((f) => f !== victim);
      await landed(survivors);
      io.say('');
      const driver = (await m1.inspect()).driver as {
        device: { missedPackets: number };
        clients: { actor: number; rxDropped: Record<string, number> }[];
      };
      let lost = 0;
      const counts = [];
      for (const f of survivors) {
        const c = await flowCounts(f);
        // What left the peer for it and did not arrive (the peer's own stack failing to
        // send, on a machine the kill never touched, is its own count, not a miss).
        const missed = c.left - c.received;
        lost += missed;
        // Where a frame would have been dropped for it, had one been: the driver's counters.
        const dropped = driver.clients.find((x) => x.actor === f.sink.id)?.rxDropped ?? {};
        counts.push({ client: f.name, ...c, missed, droppedByDriver: dropped });
        io.say(
          `${f.name}: the peer sent ${c.sent} (${c.sent - c.left} its own stack could not send), it received ${c.received}, missed ${missed} ` +
            `(gaps in sequence: ${c.lost}; dropped for it by the driver: ${JSON.stringify(dropped)})`,
        );
      }
      // Anything missed was dropped somewhere on the way, and counted there: say where.
      const onTheWay = await dropsOnTheWay(net, m1, peer);
      if (lost > 0) io.say(`drops counted on the way (all clients): ${JSON.stringify(onTheWay)}`);
      const result = {
        cleanupMs: cleanup ? Number(cleanup.ms.toFixed(3)) : null,
        observedCleanupMs: Number(observedMs.toFixed(1)),
        deadClientPortsBefore: before.ports.filter((p) => p.owner === id).length,
        deadClientFiltersBefore: before.filters.filter((f) => f.owner === id).length,
        deadClientPortsAfter: deadPorts,
        deadClientFiltersAfter: deadFilters,
        survivorFramesLost: lost,
        survivors: counts,
        dropsOnTheWay: onTheWay,
      };
      io.say(
        deadPorts === 0 && deadFilters === 0 && lost === 0
          ? 'nothing of the dead client is left, and the others never missed a frame'
          : 'SOMETHING IS WRONG: see the counts above',
      );
      if (io.json) console.log(JSON.stringify(result));
      return deadPorts === 0 && deadFilters === 0 && lost === 0 ? 0 : 1;
    } finally {
      await net.close();
    }
  },
};
