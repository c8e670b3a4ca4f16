// A machine: one emulated e1000 in its own thread ("the hardware"), plugged into a
// network, and its driver actor under a supervisor on an existing Runtime. The
// machine hands the driver only capabilities: the device's register window, signals
// page and DMA memory (SharedArrayBuffers), a grant to export `ether_netd` (whose
// connect grant only netd gets), and a grant to reach the machine's IOMMU, a
// privileged service the machine itself exports. netd and applications join in
// later layers; until then a program (a test) can hold the netd grant itself.

import type { DriverOptions } from '../actors/e1000n/driver.ts';
import { type FragmentOptions, fragmentOptions } from '../actors/e1000n/fragments.ts';
import type DriverActor from '../actors/e1000n/main.ts';
import type { E1000nArgs } from '../actors/e1000n/main.ts';
import { type NicOptions, nicOptions } from '../actors/e1000n/nic.ts';
import type { DhcpOptions } from '../actors/netd/dhcp.ts';
import type NetdActor from '../actors/netd/main.ts';
import type { NetdArgs } from '../actors/netd/main.ts';
import type { PortRange } from '../actors/netd/ports.ts';
import { E1000Nic } from '../hw/e1000/index.ts';
import { formatIpv4, formatMac, type Ipv4Addr, ipv4, type Mac, mac as parseMac } from '../lib/net/index.ts';
import {
  type FaultOptions,
  type FramePort,
  faultInjector,
  type PcapTapOptions,
  pcapTap,
  type SwitchPort,
} from '../lib/phy/index.ts';
import { checkOptions, numberOption } from '../lib/phy/options.ts';
import { FishnetError } from '../protocols/errors.ts';
import { iommu } from '../protocols/generated/iommu.ts';
import type { ActorRef, ApiOf, Grant, Runtime, SupervisorRef } from '../runtime/index.ts';
import type { Network } from './network.ts';

const DRIVER = new URL('../actors/e1000n/main.ts', import.meta.url);
const NETD = new URL('../actors/netd/main.ts', import.meta.url);

/** netd's arguments from the machine's options: '10.0.0.2/24' becomes an address and a mask. */
function netdArgs(name: string, o: MachineOptions): NetdArgs {
  const a = o.address!;
  if (typeof a !== 'string') {
    return { machine: name, address: a, ephemeral: o.ephemeral, portsPerClient: o.portsPerClient };
  }
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(a);
  if (!m || Number(m[2]) > 32) {
    throw new FishnetError('RT_ERR_BAD_SPEC', `address must be like '10.0.0.2/24', not ${JSON.stringify(a)}`);
  }
  const ip = ipv4(m[1]!); // throws a TypeError naming the bad part
  const bits = Number(m[2]);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if (o.gateway !== undefined) ipv4(o.gateway);
  return {
    machine: name,
    address: { ip: formatIpv4(ip), mask: formatIpv4(mask as Ipv4Addr), gw: o.gateway },
    ephemeral: o.ephemeral,
    portsPerClient: o.portsPerClient,
  };
}

export interface MachineOptions {
  /** Unique on the runtime: services are named `<name>/ether`, `<name>/netd`, ... */
  readonly name: string;
  /**
   * The machine's address, for its netd: '10.0.0.2/24' (with `gateway`), or
   * { dhcp: { timeoutMs? } }. Without it the machine runs no netd (a program may
   * stand in for it with `netdGrant`).
   */
  readonly address?: string | { readonly dhcp: DhcpOptions };
  readonly gateway?: string;
  /** netd's ephemeral port range (default 49152-65535). */
  readonly ephemeral?: PortRange;
  /** Ports one application may hold at once on this machine (default 4096). */
  readonly portsPerClient?: number;
  /** The NIC's MAC (default: one made from the name, locally administered). */
  readonly mac?: Mac | string;
  /** Record the NIC's link in a pcap file (tcpdump, Wireshark). */
  readonly pcap?: string | { readonly file: string; readonly options?: PcapTapOptions };
  /** Faults on the NIC's link (drop, duplicate, corrupt, reorder, delay). */
  readonly faults?: FaultOptions;
  readonly nic?: NicOptions & { readonly dmaBytes?: number; readonly queueFrames?: number };
  /**
   * How long each thread on the data path looks for more work before it sleeps, in
   * turns of its loop: the device's, its host port's, the driver's service loop, the
   * driver's rings to clients. Longer polls trade CPU for latency.
   */
  readonly poll?: {
    readonly device?: number;
    readonly host?: number;
    readonly driver?: number;
    readonly rings?: number;
  };
  readonly driver?: DriverOptions;
}

/**
 * Everything a machine is booted with, checked before anything starts: an unknown key
 * or a value out of range is a TypeError or RangeError naming it (a typo such as
 * `pcapp`, or a poll of NaN that would keep the driver from ever sleeping).
 */
function checkMachineOptions(o: MachineOptions): void {
  const w = `Machine.boot(${o.name})`;
  checkOptions(w, o, [
    'name',
    'address',
    'gateway',
    'ephemeral',
    'portsPerClient',
    'mac',
    'pcap',
    'faults',
    'nic',
    'poll',
    'driver',
  ]);
  if (o.portsPerClient !== undefined)
    numberOption(w, 'portsPerClient', o.portsPerClient, { min: 1, max: 65536, integer: true });
  const turns = { min: 0, max: 1_000_000, integer: true };
  const poll = checkOptions(`${w} poll`, o.poll, ['device', 'host', 'driver', 'rings']);
  for (const k of ['device', 'host', 'driver', 'rings'])
    if (poll[k] !== undefined) numberOption(`${w} poll`, k, poll[k], turns);
  const { dmaBytes, queueFrames } = o.nic ?? {};
  if (dmaBytes !== undefined)
    numberOption(`${w} nic`, 'dmaBytes', dmaBytes, { min: 1 << 20, max: 1 << 30, integer: true });
  if (queueFrames !== undefined)
    numberOption(`${w} nic`, 'queueFrames', queueFrames, { min: 2, max: 1 << 16, integer: true });
  nicOptions(driverNic(o.nic));
  const driver = checkOptions(`${w} driver`, o.driver, ['fragments']);
  fragmentOptions(driver.fragments as FragmentOptions | undefined);
}

/** The driver's part of the NIC options (dmaBytes and queueFrames are the device's and the link's). */
function driverNic(nic: MachineOptions['nic']): NicOptions | undefined {
  if (nic === undefined) return undefined;
  const { dmaBytes: _d, queueFrames: _q, ...driver } = nic;
  return driver;
}

/** A MAC for a machine name: 02:xx:xx:xx:xx:xx from a hash of it (locally administered). */
export function macFor(name: string): Mac {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (0x02_00_00_00_00_00 + (h >>> 0) * 256 + (name.length & 0xff)) as Mac;
}

interface DriverStatistics {
  readonly filters: readonly {
    id: number;
    owner: number;
    rxBuffer: number;
    txBuffer: number;
    rxFrames: number;
    rxBytes: number;
    txFrames: number;
    txBytes: number;
  }[];
  readonly clients: readonly { actor: number; name: string }[];
  readonly rx: { arp: number; unclaimed: number };
  readonly arpFilters: boolean;
  readonly defaultBuffer: number | undefined;
  readonly defaultBufferOwner: number | undefined;
  readonly [k: string]: unknown;
}

/**
 * One filter the driver runs, as inspection shows it: a port's pair, the pair that
 * takes ICMP errors about a port's datagrams, the ARP pair (its RX side picks ARP
 * frames out to be copied to every client), or the default buffer (no filter: what
 * none claims goes there). `id` is the driver's filter id; the last two have none.
 */
export interface FilterView {
  readonly kind: 'port' | 'icmp' | 'arp' | 'default';
  readonly id: number | null;
  readonly owner: number;
  readonly ownerName: string;
  /** What it is for: `udp/7`, `icmp errors for udp/7`, ... */
  readonly for: string;
  readonly rxBuffer: number | null;
  readonly txBuffer: number | null;
  readonly rxFrames: number;
  readonly rxBytes: number | null;
  readonly txFrames: number | null;
  readonly txBytes: number | null;
}

export interface MachineInspection {
  readonly name: string;
  readonly mac: string;
  readonly address: unknown;
  readonly lease: unknown;
  readonly ports: readonly Record<string, unknown>[];
  readonly filters: readonly FilterView[];
  readonly nic: unknown;
  readonly driver: unknown;
  readonly netd: unknown;
}

/** Every filter the driver runs, named for what it is for and whose it is. */
function filterViews(
  d: DriverStatistics,
  ports: readonly { type: string; port: number; filterId: number; icmpFilterId: number }[],
  netd: number | undefined,
): FilterView[] {
  const name = (actor: number | undefined) =>
    actor === undefined ? '-' : (d.clients.find((c) => c.actor === actor)?.name ?? '?');
  const purpose = new Map<number, { kind: 'port' | 'icmp'; for: string }>();
  for (const p of ports) {
    purpose.set(p.filterId, { kind: 'port', for: `${p.type}/${p.port}` });
    purpose.set(p.icmpFilterId, { kind: 'icmp', for: `icmp errors for ${p.type}/${p.port}` });
  }
  const out: FilterView[] = d.filters.map((f) => ({
    kind: purpose.get(f.id)?.kind ?? 'port',
    id: f.id,
    owner: f.owner,
    ownerName: name(f.owner),
    for: purpose.get(f.id)?.for ?? '?',
    rxBuffer: f.rxBuffer,
    txBuffer: f.txBuffer,
    rxFrames: f.rxFrames,
    rxBytes: f.rxBytes,
    txFrames: f.txFrames,
    txBytes: f.txBytes,
  }));
  const nulls = {
    id: null,
    rxBuffer: null,
    txBuffer: null,
    rxBytes: null,
    txFrames: null,
    txBytes: null,
  } as const;
  if (d.arpFilters && netd !== undefined) {
    out.push({
      ...nulls,
      kind: 'arp',
      owner: netd,
      ownerName: name(netd),
      for: 'ARP, copied to every client',
      rxFrames: d.rx.arp,
    });
  }
  if (d.defaultBuffer !== undefined && d.defaultBufferOwner !== undefined) {
    out.push({
      ...nulls,
      kind: 'default',
      owner: d.defaultBufferOwner,
      ownerName: name(d.defaultBufferOwner),
      for: 'what no filter claims',
      rxBuffer: d.defaultBuffer,
      rxFrames: d.rx.unclaimed,
    });
  }
  return out;
}

export class Machine {
  private constructor(
    readonly name: string,
    readonly mac: Mac,
    readonly nic: E1000Nic,
    readonly supervisor: SupervisorRef,
    /** What netd is handed to bind the driver's control interface. */
    readonly netdGrant: Grant,
    /** What an application is handed to open ports below 1024 (it binds `<name>/netd-priv`). */
    readonly lowPortGrant: Grant,
    private readonly link: FramePort,
    private readonly switchPort: SwitchPort,
    private readonly rt: Runtime,
  ) {}

  /** Boot a machine on `network`: its NIC up, its driver running and serving. */
  static async boot(rt: Runtime, network: Network, options: MachineOptions): Promise<Machine> {
    if (typeof options?.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(options.name)) {
      throw new FishnetError(
        'RT_ERR_BAD_SPEC',
        `a machine name is letters, digits, '.', '_' or '-', not ${JSON.stringify(options?.name)}`,
      );
    }
    const name = options.name;
    checkMachineOptions(options);
    const mac =
      options.mac === undefined
        ? macFor(name)
        : typeof options.mac === 'string'
          ? parseMac(options.mac)
          : options.mac;
    // Checked before anything starts: a bad address is refused, naming it.
    const nargs = options.address === undefined ? undefined : netdArgs(name, options);
    const nic = await E1000Nic.start({
      mac,
      name: `${name}/e1000`,
      // Room for a receive ring of 2048 private 2 KiB buffers and the header slots.
      dmaBytes: options.nic?.dmaBytes ?? 16 << 20,
      queueFrames: options.nic?.queueFrames,
      devicePollTurns: options.poll?.device,
      hostPollTurns: options.poll?.host,
    });
    let link: FramePort = nic.port;
    try {
      if (options.faults) link = faultInjector(link, options.faults);
      if (options.pcap) {
        const p = typeof options.pcap === 'string' ? { file: options.pcap } : options.pcap;
        link = pcapTap(link, p.file, p.options);
      }
      const switchPort = network.attach(link);
      const etherNetd = rt.privileged(`${name}/ether_netd`);
      const lowPorts = rt.privileged(`${name}/netd-priv`);
      const mmu = rt.privileged(`${name}/iommu`);
      rt.serve(iommu, `${name}/iommu`, (s) => {
        s.rpc.map = async (mem) => ({ base: BigInt(await nic.mapRegion(mem as SharedArrayBuffer)) });
        s.rpc.unmap = async (base) => nic.unmapRegion(Number(base));
      });
      const args: E1000nArgs = {
        device: nic.driverCaps,
        service: `${name}/ether`,
        nic: driverNic(options.nic),
        driver: options.driver,
        pollTurns: options.poll?.driver,
        ringPollTurns: options.poll?.rings,
      };
      const supervisor = await rt.supervise({
        name,
        intensity: 3,
        periodMs: 5000,
        // netd depends on the driver: if the driver restarts, so does netd (and it takes over the filters).
        strategy: 'rest_for_one',
        children: [
          { id: 'e1000n', module: DRIVER, args, caps: { netd: etherNetd.export, iommu: mmu.connect } },
          ...(options.address === undefined
            ? []
            : [
                {
                  id: 'netd',
                  module: NETD,
                  args: nargs,
                  caps: { driver: etherNetd.connect, lowPorts: lowPorts.export },
                },
              ]),
        ],
      });
      return new Machine(
        name,
        mac,
        nic,
        supervisor,
        etherNetd.connect,
        lowPorts.connect,
        link,
        switchPort,
        rt,
      );
    } catch (e) {
      try {
        rt.unexport(`${name}/iommu`);
      } catch {
        // not exported yet
      }
      await link.close().catch(() => {});
      await nic.close();
      throw e;
    }
  }

  /** netd as it runs now (undefined for a machine without an address). */
  get netd(): ActorRef<ApiOf<typeof NetdActor>> | undefined {
    return this.supervisor.child('netd') as ActorRef<ApiOf<typeof NetdActor>> | undefined;
  }

  /** The driver actor as it runs now (a restart makes a new one). */
  get driver(): ActorRef<ApiOf<typeof DriverActor>> {
    return this.supervisor.child('e1000n') as ActorRef<ApiOf<typeof DriverActor>>;
  }

  /**
   * What the machine holds now: every open port (owner, type, filter, state, and the
   * frames its filter claimed), every filter the driver runs, netd's lease, and the
   * counters of the NIC, the driver and netd.
   */
  async inspect(): Promise<MachineInspection> {
    const driver = (await this.driver.api.statistics()) as DriverStatistics;
    const netd = this.netd;
    const ports = netd ? await netd.api.ports() : [];
    const hits = new Map(driver.filters.map((f) => [f.id, f]));
    return {
      name: this.name,
      mac: formatMac(this.mac),
      address: netd ? await netd.api.address() : undefined,
      lease: netd ? await netd.api.lease() : undefined,
      ports: ports.map((p) => ({
        ...p,
        rxFrames: hits.get(p.filterId)?.rxFrames ?? 0,
        txFrames: hits.get(p.filterId)?.txFrames ?? 0,
      })),
      filters: filterViews(driver, ports, netd?.id),
      nic: this.nic.stats(),
      driver,
      netd: netd ? await netd.api.statistics() : undefined,
    };
  }

  toString(): string {
    return `${this.name} (${formatMac(this.mac)})`;
  }

  /** Stop the driver, withdraw the machine's services, unplug the NIC and stop its thread. */
  async shutdown(): Promise<void> {
    if (this.down) return this.down;
    this.down = (async () => {
      await this.rt.terminate(this.supervisor).catch(() => {});
      try {
        this.rt.unexport(`${this.name}/iommu`);
      } catch {
        // the runtime is stopped already: its names went with it
      }
      if (this.switchPort.attached) this.switchPort.detach();
      await this.link.close();
      await this.nic.close();
    })();
    return this.down;
  }

  private down: Promise<void> | undefined;
}
