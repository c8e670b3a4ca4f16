// The Linux kernel as the peer. Two network namespaces joined by a veth pair (a
// link-local /30 underlay); in one, a Linux `vxlan` device with an IPv4 address; in
// the other, a fishnet process with a VxlanPort that asks Linux for its MAC (ARP)
// and pings it. (A kernel vxlan device cannot reach a user-space end point over
// plain loopback, hence the namespaces.) Everything the test makes is removed, even
// when it fails; it is skipped (and counted so) when not root or `ip` is missing.
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { have, missing } from '../helpers/tools.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const peer = fileURLToPath(new URL('./fixtures/vxlan-linux-peer.ts', import.meta.url));

const isRoot = process.getuid?.() === 0;

// Names carry our pid, so that runs in parallel do not meet, and a run that died
// before cleaning up can be recognised (its pid is gone) and cleaned up by the next.
const PREFIX = 'fnphy-';
const tag = process.pid.toString(36);
const NS_LINUX = `${PREFIX}${tag}-linux`;
const NS_FISH = `${PREFIX}${tag}-fish`;
const x = (process.pid % 250) + 1;
const UNDERLAY_LINUX = `169.254.${x}.1`;
const UNDERLAY_FISH = `169.254.${x}.2`;
const LINUX_IP = `10.213.${x}.1`;
const FISH_IP = `10.213.${x}.2`;
const VNI = 0x0f15;

const ip = (...args: string[]) =>
  execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the test cannot run here, or '' (root in a container may still lack namespaces or the vxlan module). */
function cannotRun(): string {
  if (!isRoot) return 'needs root (network namespaces)';
  if (!have('ip')) return missing('iproute2');
  const probe = `${PREFIX}${tag}-probe`;
  try {
    ip('netns', 'add', probe);
  } catch (e) {
    return `cannot create a network namespace: ${(e as { stderr?: string }).stderr?.trim()}`;
  }
  try {
    ip('-n', probe, 'link', 'add', 'vxprobe', 'type', 'vxlan', 'id', '1', 'dstport', '4789');
    return '';
  } catch (e) {
    return `the kernel cannot make vxlan devices: ${(e as { stderr?: string }).stderr?.trim()}`;
  } finally {
    ip('netns', 'del', probe);
  }
}
const why = cannotRun();

function removeNamespaces(only?: (name: string) => boolean): void {
  for (const line of ip('netns', 'list').split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (!name.startsWith(PREFIX) || (only && !only(name))) continue;
    try {
      ip('netns', 'del', name); // takes the veth end and the vxlan device in it along
    } catch {
      // already gone
    }
  }
}

const title = 'Linux as the peer: a Linux vxlan device answers fishnet’s ARP request and ping';
(why ? test.skip : test)(why ? `${title} (skipped: ${why})` : title, async (t) => {
  // Left over by a run that died: its pid is no longer alive.
  removeNamespaces((name) => {
    const pid = Number.parseInt(name.slice(PREFIX.length).split('-')[0] ?? '', 36);
    return Number.isInteger(pid) && pid !== process.pid && !alive(pid);
  });
  const mine = (name: string) => name === NS_LINUX || name === NS_FISH;
  t.teardown(() => removeNamespaces(mine));

  ip('netns', 'add', NS_LINUX);
  ip('netns', 'add', NS_FISH);
  const vethL = `fnv${tag}l`;
  const vethF = `fnv${tag}f`;
  ip('link', 'add', vethL, 'netns', NS_LINUX, 'type', 'veth', 'peer', 'name', vethF, 'netns', NS_FISH);
  ip('-n', NS_LINUX, 'addr', 'add', `${UNDERLAY_LINUX}/30`, 'dev', vethL);
  ip('-n', NS_FISH, 'addr', 'add', `${UNDERLAY_FISH}/30`, 'dev', vethF);
  for (const [ns, dev] of [
    [NS_LINUX, vethL],
    [NS_FISH, vethF],
    [NS_LINUX, 'lo'],
    [NS_FISH, 'lo'],
  ] as const)
    ip('-n', ns, 'link', 'set', dev, 'up');
  ip(
    '-n',
    NS_LINUX,
    'link',
    'add',
    'vx0',
    'type',
    'vxlan',
    'id',
    String(VNI),
    'dstport',
    '4789',
    'local',
    UNDERLAY_LINUX,
    'remote',
    UNDERLAY_FISH,
    'dev',
    vethL,
  );
  ip('-n', NS_LINUX, 'addr', 'add', `${LINUX_IP}/24`, 'dev', 'vx0');
  ip('-n', NS_LINUX, 'link', 'set', 'vx0', 'up');
  const [vx] = JSON.parse(ip('-j', '-n', NS_LINUX, 'link', 'show', 'vx0')) as { address: string }[];

  const { stdout, stderr } = await run(
    'ip',
    [
      'netns',
      'exec',
      NS_FISH,
      process.execPath,
      '--import',
      'tsx',
      peer,
      String(VNI),
      UNDERLAY_FISH,
      UNDERLAY_LINUX,
      FISH_IP,
      LINUX_IP,
    ],
    { cwd: root, timeout: 30_000 },
  ).catch((e: { stdout: string; stderr: string; message: string }) => {
    throw new Error(`the fishnet end failed: ${e.message}\n${e.stdout}\n${e.stderr}`);
  });
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    arp: { senderMac: string; senderIp: string };
    ping: { id: number; seq: number; payload: string; ipChecksumValid: boolean; icmpChecksumValid: boolean };
    stats: { dropped: { malformed: number } };
  };
  t.deepEqual(out.arp, { senderMac: vx!.address, senderIp: LINUX_IP }, stderr);
  t.deepEqual(out.ping, {
    id: 0x4649,
    seq: 1,
    payload: 'fishnet over vxlan',
    ipChecksumValid: true,
    icmpChecksumValid: true,
  });
  t.is(out.stats.dropped.malformed, 0);
  // Linux learned fishnet's MAC behind the tunnel end point.
  const fdb = ip('-n', NS_LINUX, 'neigh', 'show', 'dev', 'vx0');
  t.regex(fdb, new RegExp(`${FISH_IP.replaceAll('.', '\\.')} lladdr 02:66:69:73:68:01`));
});
