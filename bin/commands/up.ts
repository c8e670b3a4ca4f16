// `fishnet up`: a long-running machine with chosen applications, on the virtual
// switch or a VXLAN link, reachable by `fishnet ports` / `fishnet stats` through its
// control socket, until SIGINT or SIGTERM.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { APPS, type AppEntry, needsLowPorts } from '../../embed/apps.ts';
import { ControlServer, controlPath } from '../../embed/control.ts';
import { createNetwork, type FishnetMachine } from '../../embed/fishnet.ts';
import { ipv4, isHostIpv4 } from '../../lib/net/index.ts';
import type { VxlanOptions } from '../../lib/phy/index.ts';
import { FishnetError } from '../../protocols/errors.ts';
import type { ActorRef } from '../../runtime/index.ts';
import type { Command } from '../cli.ts';
import { guarded, intFlag, keyValues, machineName, parseFlags, UsageError } from '../flags.ts';

const usage = [
  'usage: fishnet up [--name NAME] (--address ADDR/BITS [--gateway ADDR] | --dhcp [--dhcp-timeout S])',
  '                  [--app APP[:PORT][,key=value...]]... [--vxlan remote=ADDR,vni=N[,local=ADDR][,port=P]]',
  '                  [--pcap FILE] [--json]',
  '',
  '  --name NAME       the machine (default m1); `fishnet ports --name NAME` reaches it',
  '  --address A/BITS  a static address, e.g. 10.0.0.2/24; --gateway its router',
  '  --dhcp            get the address from a DHCP server on the segment',
  '  --dhcp-timeout S  give up when no server answered in S seconds (default 60)',
  '  --app APP:PORT    run an application (repeatable); ports below 1024 get the capability for them',
  '  --vxlan ...       carry the segment over VXLAN (port: the UDP port at both ends, default 4789)',
  "  --pcap FILE       record the machine's link",
  '  --json            print the "up" line as JSON',
  '',
  'applications:',
  ...Object.entries(APPS).map(([k, a]) => `  ${k.padEnd(12)} ${a.about}`),
  '',
  'e.g.  fishnet up --address 10.0.0.2/24 --app udp-echo:7 --app udp-traffic:9000',
  '',
  `It prints one line when it is up, then serves until SIGINT or SIGTERM. Its control socket is`,
  `${controlPath('NAME')} (set FISHNET_RUN_DIR to move it).`,
].join('\n');

interface AppPlan {
  readonly name: string;
  readonly entry: AppEntry;
  readonly args: Record<string, unknown>;
  readonly port?: number;
}

/** `udp-echo:7,key=value`: the app, its port and its arguments, each checked. */
export function parseApp(spec: string): AppPlan {
  const [head, ...rest] = spec.split(',');
  const [name, portText, extra] = head!.split(':');
  const entry = Object.hasOwn(APPS, name!) ? APPS[name!] : undefined;
  if (!entry || extra !== undefined) {
    throw new UsageError(`--app: unknown application '${head}' (one of: ${Object.keys(APPS).join(', ')})`);
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!entry.port) throw new UsageError(`--app: ${name} takes no port`);
    port = intFlag(`app ${name}: port`, portText, 1, 65535);
  } else if (entry.port?.required) throw new UsageError(`--app: ${name} needs a port (${name}:PORT)`);
  const kv: Record<string, string | number> = {};
  if (rest.length > 0) {
    for (const [k, v] of Object.entries(keyValues('app', rest.join(','), Object.keys(entry.keys)))) {
      if (entry.keys[k] === 'number') {
        const n = Number(v);
        if (v === '' || !Number.isFinite(n) || n < 0) {
          throw new UsageError(`--app ${name}: ${k} must be a number, not '${v}'`);
        }
        kv[k] = n;
      } else kv[k] = v;
    }
  }
  let args: Record<string, unknown>;
  try {
    args = entry.args(port, kv);
  } catch (e) {
    throw new UsageError(`--app ${name}: ${(e as Error).message}`);
  }
  return { name: name!, entry, args, port };
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
function checkIp(flag: string, v: string): string {
  const m = IPV4.exec(v);
  if (!m || m.slice(1).some((o) => Number(o) > 255))
    throw new UsageError(`${flag}: '${v}' is not an IPv4 address`);
  return v;
}

export function parseVxlan(text: string): VxlanOptions {
  const kv = keyValues('vxlan', text, ['remote', 'vni', 'local', 'port']);
  if (kv.remote === undefined || kv.vni === undefined)
    throw new UsageError('--vxlan needs remote=ADDR and vni=N');
  const port = intFlag('vxlan port', kv.port, 1, 65535) ?? 4789;
  return {
    remoteAddress: checkIp('--vxlan remote', kv.remote),
    vni: intFlag('vxlan vni', kv.vni, 0, 2 ** 24 - 1)!,
    localAddress: kv.local === undefined ? undefined : checkIp('--vxlan local', kv.local),
    localPort: port,
    remotePort: port,
  };
}

export const up: Command = {
  summary: 'run a machine with applications until SIGINT or SIGTERM',
  usage,
  run: (argv) =>
    guarded('up', async () => {
      const { values: v } = parseFlags(argv, {
        name: { type: 'string' },
        address: { type: 'string' },
        gateway: { type: 'string' },
        dhcp: { type: 'boolean' },
        'dhcp-timeout': { type: 'string' },
        app: { type: 'string', multiple: true },
        vxlan: { type: 'string' },
        pcap: { type: 'string' },
        json: { type: 'boolean' },
      });
      const name = machineName(v.name ?? 'm1');
      if (v.dhcp && v.address) throw new UsageError('--address and --dhcp: choose one');
      if (!v.dhcp && !v.address) throw new UsageError('an address is needed: --address ADDR/BITS or --dhcp');
      const dhcpTimeout = intFlag('dhcp-timeout', v['dhcp-timeout'], 1, 3600);
      if (dhcpTimeout !== undefined && !v.dhcp) throw new UsageError('--dhcp-timeout goes with --dhcp');
      if (v.address) {
        const [a, bits, more] = v.address.split('/');
        checkIp('--address', a!);
        if (more !== undefined) throw new UsageError(`--address: '${v.address}' is not ADDR/BITS`);
        const n = intFlag('address prefix length', bits ?? '', 0, 32)!;
        const ip = ipv4(a!);
        const host = n >= 31 ? 0 : ~(0xffffffff << (32 - n)) >>> 0; // the host part's bits
        if (!isHostIpv4(ip) || (host !== 0 && ((ip & host) === 0 || (ip & host) >>> 0 === host))) {
          throw new UsageError(`--address: ${a} is not an address a host may have in /${n}`);
        }
      }
      if (v.gateway) {
        checkIp('--gateway', v.gateway);
        if (v.address) {
          const [a, bits] = v.address.split('/');
          const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
          const [ip, gw] = [ipv4(a!), ipv4(v.gateway)];
          if ((ip & mask) >>> 0 !== (gw & mask) >>> 0 || gw === ip) {
            throw new UsageError(`--gateway: ${v.gateway} is not another host on ${v.address}'s network`);
          }
        }
      }
      const apps = (v.app ?? []).map(parseApp);
      const byPort = new Map<number, string>();
      for (const app of apps) {
        if (app.port === undefined) continue;
        const other = byPort.get(app.port);
        if (other) throw new UsageError(`--app: port ${app.port} is given to both ${other} and ${app.name}`);
        byPort.set(app.port, app.name);
      }
      if (v.pcap !== undefined && !existsSync(dirname(resolve(v.pcap)))) {
        throw new UsageError(`--pcap: the directory of '${v.pcap}' does not exist`);
      }
      const vxlan = v.vxlan ? parseVxlan(v.vxlan) : undefined;
      return serve({
        name,
        address: v.dhcp ? { dhcp: { timeoutMs: (dhcpTimeout ?? 60) * 1000 } } : v.address!,
        gateway: v.gateway,
        apps,
        vxlan,
        pcap: v.pcap,
        json: v.json ?? false,
      });
    }),
};

interface UpPlan {
  readonly name: string;
  readonly address: string | { dhcp: { timeoutMs: number } };
  readonly gateway?: string;
  readonly apps: readonly AppPlan[];
  readonly vxlan?: VxlanOptions;
  readonly pcap?: string;
  readonly json: boolean;
}

async function serve(plan: UpPlan): Promise<number> {
  try {
    return await serveUntilStopped(plan);
  } catch (e) {
    // A machine that cannot come up (the name is taken, no DHCP server, the VXLAN port in use): one line,
    // naming the error that stopped it rather than the actor start that carried it.
    const cause = e instanceof FishnetError ? FishnetError.fromWire(e.data) : undefined;
    console.error(`fishnet up: ${(cause ?? (e as Error)).message}`);
    return 1;
  }
}

async function serveUntilStopped(plan: UpPlan): Promise<number> {
  const say = (line: string) => process.stderr.write(`fishnet up: ${line}\n`);
  await ControlServer.claim(plan.name);
  // A signal during boot stops it as well as one while serving.
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const onSignal = () => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const dhcp = typeof plan.address === 'string' ? undefined : plan.address.dhcp;
  say(
    `booting ${plan.name}: NIC, driver, netd${dhcp ? ` (asking DHCP for an address; giving up after ${dhcp.timeoutMs / 1000} s)` : ''}`,
  );
  const net = await createNetwork({ vxlan: plan.vxlan });
  // Long work shows progress: while DHCP has no answer, a line every ten seconds.
  const t0 = performance.now();
  const ticker = dhcp
    ? setInterval(() => say(`still asking DHCP (${Math.round((performance.now() - t0) / 1000)} s)`), 10_000)
    : undefined;
  try {
    const m = await Promise.race([
      net.boot({ name: plan.name, address: plan.address, gateway: plan.gateway, pcap: plan.pcap }),
      stopped.then(() => undefined),
    ]).finally(() => clearInterval(ticker));
    if (!m) return 0;
    const running: { plan: AppPlan; ref: ActorRef }[] = [];
    for (const app of plan.apps) {
      say(`starting ${app.name}${app.port ? `:${app.port}` : ''}`);
      const ref = await m.spawn({
        name: `${plan.name}/${app.name}${app.port ? `-${app.port}` : `-${running.length + 1}`}`,
        module: app.entry.module,
        args: app.args,
        lowPorts: needsLowPorts(app.entry, app.port),
      });
      running.push({ plan: app, ref });
    }
    const control = await m.serveControl({ stats: () => stats(m, running) });
    const view = await m.inspect();
    const address = (view.address as { ip: number; mask: number }) ?? { ip: 0, mask: 0 };
    const line = {
      name: plan.name,
      mac: view.mac,
      address: `${dotted(address.ip)}/${prefix(address.mask)}`,
      apps: running.map((r) => `${r.plan.name}${r.plan.port ? `:${r.plan.port}` : ''}`),
      link: plan.vxlan
        ? `vxlan vni ${plan.vxlan.vni} to ${plan.vxlan.remoteAddress}:${plan.vxlan.remotePort}`
        : 'virtual switch',
      control: control.path,
    };
    console.log(
      plan.json
        ? JSON.stringify({ up: true, ...line })
        : `fishnet: ${line.name} up at ${line.address} (${line.mac}) on ${line.link}; apps: ${line.apps.join(' ') || 'none'}; control: ${line.control}`,
    );
    await stopped;
    say('stopping');
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await net.close(); // the machine's control socket closes with it
  }
}

async function stats(m: FishnetMachine, running: readonly { plan: AppPlan; ref: ActorRef }[]) {
  const view = await m.inspect();
  const apps = await Promise.all(
    running.map(async ({ plan, ref }) => {
      const method = plan.entry.stats;
      let s: unknown = null;
      if (ref.state === 'running' && method) {
        const api = ref.api as unknown as Record<string, () => Promise<unknown>>;
        s = await api[method]!().catch(() => null);
      }
      return { app: plan.name, port: plan.port, actor: ref.id, state: ref.state, stats: s };
    }),
  );
  return {
    machine: view.name,
    mac: view.mac,
    address: view.address,
    lease: view.lease,
    nic: view.nic,
    driver: view.driver,
    netd: view.netd,
    apps,
  };
}

const dotted = (ip: number) => [24, 16, 8, 0].map((s) => (ip >>> s) & 255).join('.');
const prefix = (mask: number) => {
  let n = 0;
  for (let m = mask >>> 0; m & 0x80000000; m = (m << 1) >>> 0) n++;
  return n;
};
