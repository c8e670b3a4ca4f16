// The Linux kernel as the peer. Two network namespaces joined by a veth pair (a
// link-local /30 underlay); in one, a Linux `vxlan` device with an IPv4 address; in
// the other, a fishnet process with a VxlanPort that asks Linux for its MAC (ARP)
// and pings it. (A kernel vxlan device cannot reach a user-space end point over
// plain loopback, hence the namespaces: embed/linux.ts makes them and removes them,
// even when the test fails; it is skipped, and counted so, when it cannot run.)
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { LinuxPeer } from '../../embed/linux.ts';

const peerScript = fileURLToPath(new URL('./fixtures/vxlan-linux-peer.ts', import.meta.url));
const why = LinuxPeer.cannotRun();

const title = 'Linux as the peer: a Linux vxlan device answers fishnet’s ARP request and ping';
(why ? test.skip : test)(why ? `${title} (skipped: ${why})` : title, async (t) => {
  const peer = await LinuxPeer.create();
  t.teardown(() => peer.remove());
  const r = await peer.execFish(process.execPath, [
    '--import',
    'tsx',
    peerScript,
    String(peer.vni),
    peer.underlayFish,
    peer.underlayLinux,
    peer.fishIp,
    peer.linuxIp,
  ]);
  if (r.code !== 0) throw new Error(`the fishnet end failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  const { stdout, stderr } = r;
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    arp: { senderMac: string; senderIp: string };
    ping: { id: number; seq: number; payload: string; ipChecksumValid: boolean; icmpChecksumValid: boolean };
    stats: { dropped: { malformed: number } };
  };
  t.deepEqual(out.arp, { senderMac: peer.linuxMac, senderIp: peer.linuxIp }, stderr);
  t.deepEqual(out.ping, {
    id: 0x4649,
    seq: 1,
    payload: 'fishnet over vxlan',
    ipChecksumValid: true,
    icmpChecksumValid: true,
  });
  t.is(out.stats.dropped.malformed, 0);
  // Linux learned fishnet's MAC behind the tunnel end point.
  const fdb = await peer.exec('ip', ['neigh', 'show', 'dev', 'vx0']);
  t.regex(fdb.stdout, new RegExp(`${peer.fishIp.replaceAll('.', '\\.')} lladdr 02:66:69:73:68:01`));
});
