// The Linux kernel as a real peer (fishnet demo linux): ping, ARP, UDP both ways
// through socat, and a capture tshark reads with checksums checked. It makes its own
// network namespaces and removes them; skipped (and counted so) where it cannot run.
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { linuxDemoCannotRun } from '../bin/demos/linux.ts';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/fishnet.mjs', import.meta.url));
const why = linuxDemoCannotRun();
const title =
  'Linux over VXLAN: ping gets netd, ARP learns the NIC, socat and fishnet echo each other, tshark reads the capture';
if (why) process.stderr.write(`skipping the Linux peer test: ${why}\n`);

(why ? test.skip : test)(why ? `${title} (skipped: ${why})` : title, async (t) => {
  const namespaces = () =>
    execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.startsWith('fishnet-'));
  const { stdout, stderr } = await run(process.execPath, [bin, 'demo', 'linux', '--json'], {
    timeout: 120_000,
  }).catch((e: { stdout: string; stderr: string; code: number }) => {
    throw new Error(`fishnet demo linux failed (${e.code}):\n${e.stdout}\n${e.stderr}`);
  });
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    ping: { sent: number; received: number };
    arp: { fishnetMac: string; linuxLearned: string };
    linuxToFishnetEcho: boolean;
    fishnetToLinux: { sent: number; replies: number };
    pcap: { frames: number; malformed: number; protocols: Record<string, number> };
    fishnetExit: number;
  };
  t.deepEqual(r.ping, { sent: 3, received: 3 }, stderr);
  t.is(r.arp.linuxLearned, r.arp.fishnetMac);
  t.true(r.linuxToFishnetEcho);
  t.deepEqual(r.fishnetToLinux.replies, 20);
  t.is(r.pcap.malformed, 0);
  t.true(
    (r.pcap.protocols['ip:udp'] ?? 0) >= 42 &&
      (r.pcap.protocols['ip:icmp'] ?? 0) >= 6 &&
      (r.pcap.protocols.arp ?? 0) >= 2,
  );
  t.is(r.fishnetExit, 0);
  t.deepEqual(
    namespaces().filter((n) => n.includes(`-${process.pid.toString(36)}-`)),
    [],
  );
  t.regex(stderr, /namespaces removed/);
});
