// A machine with its own netd, for netd's tests: a tap on the switch to play the peer
// on the wire, and clients that speak ether and netd. Everything is closed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { Machine, type MachineOptions } from '../../embed/machine.ts';
import { Network } from '../../embed/network.ts';
import type { FramePort } from '../../lib/phy/index.ts';
import { Runtime } from '../../runtime/index.ts';
import type { EtherClientArgs } from '../fixtures/actors/ether-client.ts';
import type { EtherClient } from './machine.ts';
import { eventually, fixture } from './runtime.ts';

export interface NetdRig {
  readonly rt: Runtime;
  readonly net: Network;
  readonly m: Machine;
  readonly wire: FramePort;
  readonly onWire: Uint8Array[];
  readonly dir: string;
  client(args?: Partial<EtherClientArgs>, lowPorts?: boolean): Promise<EtherClient>;
  wireCount(n: number, ms?: number): Promise<boolean>;
  netd(): NonNullable<Machine['netd']>;
}

export async function withNetd<T>(
  t: ExecutionContext,
  fn: (r: NetdRig) => Promise<T>,
  options: Partial<MachineOptions> = {},
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'fishnet-netd-'));
  const rt = new Runtime({ prestart: 0 });
  const net = new Network();
  // The tap first, so that nothing the machine sends at start is missed.
  const wire = net.tap();
  const onWire: Uint8Array[] = [];
  wire.setReceiver((f) => onWire.push(f.slice()));
  let m: Machine | undefined;
  try {
    m = await Machine.boot(rt, net, { name: 'm1', address: '10.0.0.2/24', gateway: '10.0.0.1', ...options });
    const machine = m;
    return await fn({
      rt,
      net,
      m: machine,
      wire,
      onWire,
      dir,
      client: async (args = {}, lowPorts = false) =>
        (await rt.spawn({
          module: fixture('ether-client'),
          args: { service: 'm1/ether', ...args },
          caps: lowPorts ? { lowPorts: machine.lowPortGrant } : undefined,
        })) as EtherClient,
      wireCount: (n, ms = 5000) => eventually(() => onWire.length >= n, ms),
      netd: () => machine.netd!,
    });
  } finally {
    await m?.shutdown();
    await rt.shutdown();
    await net.close();
    rmSync(dir, { recursive: true, force: true });
    t.deepEqual(rt.stats(), { actors: 0, monitors: 0, bindings: 0, idleThreads: 0 });
  }
}
