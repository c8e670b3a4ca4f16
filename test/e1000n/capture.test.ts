// A machine's link captured with the pcap tap: tshark (Wireshark's dissectors) reads
// every frame of a mixed exchange, in both directions, with no malformed packet.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arpFilter, arpTransmitFilter } from '../../lib/bfdmux/index.ts';
import { arpFrame, BROADCAST_MAC, type Mac, udpFrame } from '../../lib/net/index.ts';
import { Err } from '../../protocols/errors.ts';
import { MACHINE_IP, PEER_IP, PEER_MAC, withMachine } from '../helpers/machine.ts';
import { eventually } from '../helpers/runtime.ts';
import { needs } from '../helpers/tools.ts';

needs('tshark')('the link of a machine, captured: tshark dissects every frame, none malformed', async (t) => {
  // Made here, not at import: a skipped test leaves no directory behind.
  const dir = mkdtempSync(join(tmpdir(), 'fishnet-capture-'));
  const file = join(dir, 'm1.pcap');
  try {
    await withMachine(
      t,
      async (r) => {
        await r.netd.api.registerArp(arpFilter(), arpTransmitFilter(r.m.mac));
        const a = await r.client();
        await r.open(a, 7000);
        r.wire.send(
          arpFrame({
            dstMac: BROADCAST_MAC,
            srcMac: PEER_MAC,
            op: 1,
            senderMac: PEER_MAC,
            senderIp: PEER_IP,
            targetMac: 0 as Mac,
            targetIp: MACHINE_IP,
          }),
        );
        for (let i = 0; i < 10; i++) {
          r.wire.send(
            udpFrame({
              dstMac: r.m.mac as Mac,
              srcMac: PEER_MAC,
              src: PEER_IP,
              dst: MACHINE_IP,
              srcPort: 5000,
              dstPort: 7000,
              payload: new Uint8Array(20 + i * 100).fill(i),
            }),
          );
        }
        t.true(await eventually(async () => (await a.api.received()).count === 11));
        const out = udpFrame({
          dstMac: PEER_MAC,
          srcMac: r.m.mac as Mac,
          src: MACHINE_IP,
          dst: PEER_IP,
          srcPort: 7000,
          dstPort: 5000,
          payload: new Uint8Array(64).fill(9),
        });
        t.deepEqual(await a.api.send(Array.from(out)), [Err.OK]);
        t.true(await r.wireCount(1));
      },
      { pcap: file },
    );
    // 11 frames in, 1 out; the capture is flushed when the machine shut down.
    const lines = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.protocols'], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    t.is(lines.length, 12);
    t.is(lines.filter((l) => l.includes('arp')).length, 1);
    t.is(lines.filter((l) => l.includes(':udp')).length, 11, lines.join(' | '));
    const expert = execFileSync('tshark', ['-r', file, '-z', 'expert,error', '-q'], { encoding: 'utf8' });
    t.notRegex(expert, /Malformed|Error/i, expert);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
