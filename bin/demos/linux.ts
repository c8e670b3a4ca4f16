// `fishnet demo linux`: the Linux kernel as a peer on a fishnet segment. It makes
// two network namespaces (embed/linux.ts): Linux's, with a vxlan device, and one for
// a `fishnet up` machine whose segment is carried over VXLAN to it. Then: Linux
// pings the machine (netd answers), Linux's ARP learns the machine's MAC, socat on
// Linux reaches fishnet's udp-echo and gets its datagram back, a fishnet client
// (udp-traffic) reaches a UDP echo service that socat runs on Linux, and tshark
// dissects the machine's capture without a complaint. Everything it made is
// removed at the end, also when it is interrupted.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { controlRequest } from '../../embed/control.ts';
import { hasTool, LinuxPeer } from '../../embed/linux.ts';
import { parseFlags } from '../flags.ts';
import type { Demo, DemoIo } from './common.ts';
import { sleep } from './common.ts';

const run = promisify(execFile);

/** Why the demo cannot run here, or ''. */
export function linuxDemoCannotRun(): string {
  const why = LinuxPeer.cannotRun();
  if (why) return why;
  const absent = ['socat', 'tshark', 'ping'].filter((t) => !hasTool(t));
  return absent.length ? `needs ${absent.join(', ')} (apt-get install socat tshark iputils-ping)` : '';
}

export const linux: Demo = {
  about: 'the Linux kernel as a peer over VXLAN: ping, ARP, UDP both ways, a capture tshark reads (root)',
  async run(io: DemoIo, argv: string[]): Promise<number> {
    parseFlags(argv, {}); // it takes none: anything else is a mistake to name
    const why = linuxDemoCannotRun();
    if (why) {
      console.error(`fishnet demo linux: cannot run here: ${why}`);
      return 1;
    }
    const dir = mkdtempSync(join(tmpdir(), 'fishnet-linux-'));
    const pcap = join(dir, 'fishnet.pcap');
    const name = `linux-demo-${process.pid}`;
    const env = { ...process.env, FISHNET_RUN_DIR: dir };
    io.say('making two network namespaces joined by a veth pair; a Linux vxlan device in one');
    const peer = await LinuxPeer.create().catch((e) => {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    });
    try {
      io.say(
        `Linux: ${peer.linuxIp} on vx0 (${peer.linuxMac}), VXLAN vni ${peer.vni} over ${peer.underlayLinux}`,
      );
      // Linux's UDP echo service, for fishnet's client to reach.
      const echo = peer.spawn('socat', ['UDP4-RECVFROM:9000,fork', 'PIPE']);
      io.say(
        `starting fishnet up in the other namespace: ${peer.fishIp}, udp-echo:7, a client for Linux's udp 9000`,
      );
      const fish = await peer.fishnetUp(
        [
          '--name',
          name,
          '--pcap',
          pcap,
          '--app',
          'udp-echo:7',
          '--app',
          `udp-traffic,to=${peer.linuxIp}:9000,count=20,rate=50,size=64`,
        ],
        env,
      );
      const mac = String(fish.up.mac);
      io.say(`fishnet: ${fish.up.name} up at ${fish.up.address} (${mac})`);

      // Linux pings netd.
      const ping = await peer.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', peer.fishIp]);
      const m = /(\d+) packets transmitted, (\d+) received/.exec(ping.stdout);
      const pings = { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0) };
      io.say(`ping from Linux: ${pings.received}/${pings.sent} replies from netd`);

      // Linux's ARP table has fishnet's MAC.
      const neigh = await peer.exec('ip', ['neigh', 'show', peer.fishIp, 'dev', 'vx0']);
      const learned = /lladdr ([0-9a-f:]+)/.exec(neigh.stdout)?.[1] ?? null;
      io.say(`Linux's ARP: ${peer.fishIp} is at ${learned ?? 'nothing'} (fishnet's NIC: ${mac})`);

      // socat on Linux -> fishnet's udp-echo.
      const text = `hello from linux ${process.pid}`;
      const sent = await peer.exec('sh', [
        '-c',
        `printf '%s' '${text}' | socat -t 2 - UDP4:${peer.fishIp}:7`,
      ]);
      const echoed = sent.stdout === text;
      io.say(
        `socat on Linux -> fishnet udp-echo:7 -> back: ${echoed ? JSON.stringify(sent.stdout) : `nothing (${sent.stderr.trim()})`}`,
      );

      // fishnet's client -> Linux's socat echo: its generator counts the replies.
      let client = { sent: 0, replies: 0, rttP50Us: null as number | null };
      for (let i = 0; i < 50; i++) {
        const stats = (await controlRequest(name, 'stats', 5000, dir).catch(() => null)) as {
          apps: {
            app: string;
            stats: { generator?: { sent: number; replies: number; rttUs: { p50: number } | null } };
          }[];
        } | null;
        const g = stats?.apps.find((a) => a.app === 'udp-traffic')?.stats.generator;
        if (g) client = { sent: g.sent, replies: g.replies, rttP50Us: g.rttUs?.p50 ?? null };
        if (client.sent === 20 && client.replies === 20) break;
        await sleep(100);
      }
      io.say(
        `fishnet client -> socat on Linux udp 9000 -> back: ${client.replies}/${client.sent} replies, p50 ${client.rttP50Us ?? '-'} µs`,
      );

      const code = await fish.stop();
      echo.kill('SIGTERM');
      io.say(`fishnet up stopped (exit ${code})`);

      // tshark reads the capture: what it saw, and whether it complained.
      // Checksums are checked too (tshark leaves them alone by default).
      const t = await run(
        'tshark',
        [
          '-r',
          pcap,
          '-o',
          'ip.check_checksum:TRUE',
          '-o',
          'udp.check_checksum:TRUE',
          '-T',
          'fields',
          '-e',
          'frame.protocols',
          '-e',
          '_ws.malformed',
          '-e',
          '_ws.expert.severity',
        ],
        { encoding: 'utf8' },
      );
      const lines = t.stdout.trim().split('\n').filter(Boolean);
      const protocols = new Map<string, number>();
      let malformed = 0;
      for (const l of lines) {
        const [protos, mal, severity] = l.split('\t');
        const top = (protos ?? '').split(':').slice(2, 4).join(':'); // after eth:ethertype
        protocols.set(top, (protocols.get(top) ?? 0) + 1);
        // Expert severity: 'error' (and 'malformed') are what a broken frame earns.
        if (mal || (severity ?? '').split(',').some((s) => Number(s) >= 0x800000)) malformed++;
      }
      io.say(
        `tshark: ${lines.length} frames (${[...protocols].map(([p, n]) => `${p} ${n}`).join(', ')}), ${malformed} it called malformed`,
      );

      const result = {
        ping: pings,
        arp: { fishnetMac: mac, linuxLearned: learned },
        linuxToFishnetEcho: echoed,
        fishnetToLinux: client,
        pcap: { frames: lines.length, malformed, protocols: Object.fromEntries(protocols) },
        fishnetExit: code,
      };
      const ok =
        pings.received === pings.sent &&
        pings.sent > 0 &&
        learned === mac &&
        echoed &&
        client.replies === client.sent &&
        client.sent > 0 &&
        malformed === 0 &&
        code === 0;
      io.say(ok ? 'Linux and fishnet talk: every check held' : 'SOMETHING FAILED: see above');
      if (io.json) console.log(JSON.stringify(result));
      return ok ? 0 : 1;
    } finally {
      await peer.remove();
      rmSync(dir, { recursive: true, force: true });
      io.say('namespaces removed');
    }
  },
};
