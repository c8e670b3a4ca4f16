// `fishnet demo spoof`: the malicious client (actors/apps/malicious) on a machine
// beside a victim client that receives traffic from a peer. It tries every forgery
// and every way to hurt the victim; the driver and netd refuse or contain each. The
// machine's link is recorded in a pcap file and read back: every frame the attacker
// made carries a marker, so what really reached the wire is counted, not assumed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { examine } from '../../actors/apps/malicious/evidence.ts';
import type Malicious from '../../actors/apps/malicious/main.ts';
import { APPS } from '../../embed/apps.ts';
import { createNetwork } from '../../embed/fishnet.ts';
import { PcapReader } from '../../lib/net/index.ts';
import type { ActorRef, ApiOf } from '../../runtime/index.ts';
import { parseFlags } from '../flags.ts';
import {
  columns,
  type Demo,
  type DemoIo,
  dropsOnTheWay,
  flowCounts,
  flows,
  landed,
  sleep,
} from './common.ts';

export const spoof: Demo = {
  about:
    'a malicious client tries to forge frames and hurt another client; the capture shows what reached the wire',
  usage: "  --pcap FILE  keep the capture of the machine's link (default: a temporary file, removed)",
  async run(io: DemoIo, argv: string[]): Promise<number> {
    const { values } = parseFlags(argv, { pcap: { type: 'string' } });
    const dir = mkdtempSync(join(tmpdir(), 'fishnet-spoof-'));
    const pcap = values.pcap ?? join(dir, 'm1.pcap');
    const net = await createNetwork();
    try {
      io.say(`booting m1 (10.0.0.2, its link captured to ${pcap}) and a peer (10.0.0.1)`);
      const m1 = await net.boot({ name: 'm1', address: '10.0.0.2/24', pcap });
      const peer = await net.boot({ name: 'peer', address: '10.0.0.1/24' });
      const [victim] = await flows(m1, peer, '10.0.0.2', [7000], 1000);
      io.say(`victim: ${victim!.name} #${victim!.sink.id} on udp 7000, fed 1,000 datagrams/s by the peer`);
      const bad = (await m1.spawn({
        name: 'm1/malicious',
        module: APPS.malicious!.module,
        args: { victimPort: 7000, peer: { ip: '10.0.0.1' } },
      })) as ActorRef<ApiOf<typeof Malicious>>;
      io.say(`attacker: malicious #${bad.id}, an ordinary client with one port of its own`);
      io.say('');
      const report = await bad.api.run();
      await sleep(300);
      await victim!.generator.api.stop();
      await landed([victim!]);
      const v = await flowCounts(victim!);
      const onTheWay = await dropsOnTheWay(net, m1, peer);
      const victimDropped =
        (
          (await m1.inspect()).driver as { clients: { actor: number; rxDropped: Record<string, number> }[] }
        ).clients.find((x) => x.actor === victim!.sink.id)?.rxDropped ?? {};
      const ports = (await m1.inspect()).ports as unknown as { port: number; owner: number }[];
      const victimKeptPort = ports.some((p) => p.port === 7000 && p.owner === victim!.sink.id);
      await net.close(); // flushes the capture

      // Read the wire back.
      const file = PcapReader.open(readFileSync(pcap));
      if (!file.ok) throw new Error(`${pcap}: ${file.error} at byte ${file.at}`);
      const records = file.value.readAll();
      if (!records.ok) throw new Error(`${pcap}: ${records.error} at byte ${records.at}`);
      const onWire = new Map<number, { frames: number; forged: number }>();
      let forged = 0;
      for (const r of records.value) {
        const e = examine(r.data, report.identity);
        if (!e) continue;
        const c = onWire.get(e.attempt) ?? { frames: 0, forged: 0 };
        c.frames++;
        if (e.forged) {
          c.forged++;
          forged++;
        }
        onWire.set(e.attempt, c);
      }
      const attempts = report.attempts.map((a) => ({
        name: a.name,
        outcome: a.outcome,
        tried: a.tried,
        accepted: a.accepted,
        verdicts: a.verdicts,
        framesOnWire: onWire.get(a.n)?.frames ?? 0,
        forgedOnWire: onWire.get(a.n)?.forged ?? 0,
      }));
      for (const l of columns([
        ['ATTEMPT', 'TRIED', 'ACCEPTED', 'ON WIRE', 'FORGED', 'OUTCOME', 'VERDICTS'],
        ...attempts.map((a) => [
          a.name,
          String(a.tried),
          String(a.accepted),
          String(a.framesOnWire),
          String(a.forgedOnWire),
          a.outcome,
          Object.entries(a.verdicts)
            .map(([k, n]) => `${k} x${n}`)
            .join(', '),
        ]),
      ]))
        io.say(l);
      io.say('');
      io.say(`the capture holds ${records.value.length} frames; forged frames on the wire: ${forged}`);
      io.say(
        `the victim kept its port: ${victimKeptPort ? 'yes' : 'NO'}; the peer sent it ${v.sent} (${v.sent - v.left} its own stack could not send), it received ${v.received}`,
      );
      if (v.left !== v.received) {
        io.say(
          `drops counted on the way: ${JSON.stringify(onTheWay)}; dropped for the victim by the driver: ${JSON.stringify(victimDropped)}`,
        );
      }
      const ok = forged === 0 && victimKeptPort && v.left === v.received;
      if (io.json) {
        console.log(
          JSON.stringify({
            attempts,
            forgedFramesOnWire: forged,
            framesCaptured: records.value.length,
            victim: { keptPort: victimKeptPort, ...v, droppedByDriver: victimDropped },
            dropsOnTheWay: onTheWay,
          }),
        );
      }
      return ok ? 0 : 1;
    } finally {
      await net.close();
      if (values.pcap === undefined) rmSync(dir, { recursive: true, force: true });
    }
  },
};
