// `fishnet up`, `fishnet ports`, `fishnet stats` as a user runs them: a machine in
// another process, reached through its control socket, stopped by SIGTERM.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/fishnet.mjs', import.meta.url));
const runDir = mkdtempSync(join(tmpdir(), 'fishnet-run-'));
const env = { ...process.env, FISHNET_RUN_DIR: runDir };
test.after.always(() => rmSync(runDir, { recursive: true, force: true }));

async function fishnet(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { timeout: 60_000, env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

/** Start `fishnet up ARGS`; resolves with its first stdout line and a way to stop it. */
function up(...args: string[]) {
  const child = spawn(process.execPath, [bin, 'up', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    void exited.then((code) => reject(new Error(`fishnet up exited (${code}) before it was up: ${err}`)));
  });
  return { child, line, exited, stderr: () => err };
}

test('fishnet up serves until SIGTERM; fishnet ports and stats read it through its control socket', async (t) => {
  const m = up(
    '--name',
    'upt',
    '--address',
    '10.9.0.2/24',
    '--gateway',
    '10.9.0.1',
    '--app',
    'malicious:7',
    '--json',
  );
  t.teardown(() => m.child.kill('SIGKILL'));
  const line = JSON.parse(await m.line) as Record<string, unknown>;
  t.like(line, {
    up: true,
    name: 'upt',
    address: '10.9.0.2/24',
    apps: ['malicious:7'],
    link: 'virtual switch',
  });
  t.is(line.control, join(runDir, 'upt.sock'));
  t.regex(m.stderr(), /booting upt/, 'progress while it boots');

  const ports = await fishnet('ports', '--json');
  t.is(ports.code, 0, ports.stderr);
  const list = JSON.parse(ports.stdout) as { type: string; port: number; ownerName: string; state: string }[];
  t.like(list[0], { type: 'udp', port: 49152, ownerName: 'upt/malicious-7', state: 'open' });
  const table = await fishnet('ports', '--name', 'upt');
  t.regex(table.stdout, /^PROTO +PORT +OWNER/);
  t.regex(table.stdout, /udp +49152 +upt\/malicious-7 #\d+ +open/);
  const ft = await fishnet('filters', '--name', 'upt');
  t.is(ft.code, 0, ft.stderr);
  t.regex(ft.stdout, /^FILTER +KIND +FOR +OWNER/);
  t.regex(ft.stdout, /^\d+ +port +udp\/49152 +upt\/malicious-7 #\d+ /m, "the app's port filter, named");
  t.regex(ft.stdout, /^\d+ +icmp +icmp errors for udp\/49152 +upt\/malicious-7 #\d+ /m);
  t.regex(ft.stdout, /^- +arp +ARP, copied to every client +upt\/netd #\d+ /m);
  t.regex(ft.stdout, /^- +default +what no filter claims +upt\/netd #\d+ /m);
  const stats = await fishnet('stats', '--json');
  t.like(JSON.parse(stats.stdout), {
    machine: 'upt',
    apps: [{ app: 'malicious', port: 7, state: 'running' }],
  });
  const human = await fishnet('stats', '--name', 'upt');
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /^upt \(02:[0-9a-f:]+\) {2}address 10\.9\.0\.2\/24 {2}gateway 10\.9\.0\.1$/m);
  t.regex(human.stdout, /^lease: none \(a static address\)$/m);
  t.regex(human.stdout, /^nic: /m, "the NIC's counters");
  t.regex(human.stdout, /^ {2}client upt\/malicious-7 #\d+: /m);
  t.regex(human.stdout, /^app malicious:7 #\d+ running: /m);

  // A second machine of that name is refused, in one line.
  const again = await fishnet('up', '--name', 'upt', '--address', '10.9.0.3/24');
  t.is(again.code, 1);
  t.regex(again.stderr, /fishnet up: a machine named 'upt' is already up/);

  m.child.kill('SIGTERM');
  t.is(await m.exited, 0, m.stderr());
  t.false(existsSync(join(runDir, 'upt.sock')), 'the control socket is gone');
  const gone = await fishnet('ports', '--name', 'upt');
  t.is(gone.code, 1);
  t.regex(gone.stderr, /no machine named 'upt' is up/);
});

test('a bad flag or value: one line naming it, exit code 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['up', '--frob'], /fishnet up: Unknown option '--frob'/],
    [['up'], /an address is needed/],
    [['up', '--address', '10.0.0.300/24'], /--address: '10.0.0.300' is not an IPv4 address/],
    [['up', '--address', '10.0.0.2/33'], /address prefix length must be an integer from 0 to 32, not '33'/],
    [['up', '--dhcp', '--address', '10.0.0.2/24'], /choose one/],
    [['up', '--dhcp', '--app', 'nope:7'], /--app: unknown application 'nope:7'/],
    [['up', '--dhcp', '--app', 'udp-echo:70000'], /port must be an integer from 1 to 65535, not '70000'/],
    [['up', '--dhcp', '--app', 'udp-echo'], /--app: udp-echo needs a port/],
    [['up', '--dhcp', '--app', 'udp-echo:7,speed=3'], /--app: 'speed=3' is not one of/],
    [
      ['up', '--dhcp', '--app', 'udp-traffic:9,to=nowhere'],
      /--app udp-traffic: to=nowhere: expected ADDR:PORT/,
    ],
    [
      ['up', '--dhcp', '--app', 'udp-traffic:9,rate=fast'],
      /--app udp-traffic: rate must be a number, not 'fast'/,
    ],
    [['up', '--dhcp', '--vxlan', 'remote=1.2.3.4'], /--vxlan needs remote=ADDR and vni=N/],
    [['up', '--dhcp', '--vxlan', 'remote=1.2.3.4,vni=x'], /vxlan vni must be an integer/],
    [['up', '--dhcp', '--name', 'a/b'], /--name: 'a\/b'/],
    [['ports', '--name'], /fishnet ports: Option '--name <value>' argument missing/],
    [['stats', '--bogus'], /fishnet stats: Unknown option '--bogus'/],
    [['ports', '--name', 'a/b'], /fishnet ports: --name: 'a\/b'/],
    [['up', '--address', '10.0.0.2/24', '--dhcp-timeout', '3'], /--dhcp-timeout goes with --dhcp/],
    [['up', '--dhcp', '--dhcp-timeout', '0'], /--dhcp-timeout must be an integer from 1 to 3600, not '0'/],
    [
      ['up', '--address', '10.0.0.2/24', '--gateway', '192.168.1.1'],
      /--gateway: 192.168.1.1 is not another host on 10.0.0.2\/24's network/,
    ],
    [
      ['up', '--dhcp', '--app', 'udp-echo:7', '--app', 'udp-traffic:7'],
      /--app: port 7 is given to both udp-echo and udp-traffic/,
    ],
    [
      ['up', '--dhcp', '--pcap', '/nonexistent-dir/x.pcap'],
      /--pcap: the directory of '\/nonexistent-dir\/x.pcap'/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await fishnet(...args);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, re, args.join(' '));
    t.is(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
  }
});

test('fishnet up --dhcp with no server on the segment: says so while it asks, then one line and exit 1', async (t) => {
  const r = await fishnet('up', '--name', 'nodhcp', '--dhcp', '--dhcp-timeout', '2');
  t.is(r.code, 1);
  t.regex(r.stderr, /asking DHCP for an address; giving up after 2 s/);
  // The error that stopped it, not the actor start that carried it.
  t.regex(r.stderr, /^fishnet up: DHCP_ERR_NO_SERVER: No DHCP server answered within the time limit/m);
  t.false(existsSync(join(runDir, 'nodhcp.sock')), 'nothing left behind');
});
