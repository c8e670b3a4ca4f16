// The e1000n driver actor. Spawned with the capabilities of one emulated e1000 (its
// register window, signals page and DMA memory, all SharedArrayBuffers) and grants
// for the services it needs: to export `ether_netd` (only netd may bind it), to
// reach the machine's IOMMU. It brings the device up, serves `ether` and
// `ether_netd`, and services the device: a few polls of the rings while there is
// work, then it sleeps until the device raises its interrupt line.

import type { E1000DriverCaps } from '../../hw/e1000/index.ts';
import { regs as R } from '../../hw/e1000/index.ts';
import { numberOption } from '../../lib/phy/options.ts';
import { ether } from '../../protocols/generated/ether.ts';
import { ether_netd } from '../../protocols/generated/ether_netd.ts';
import { iommu } from '../../protocols/generated/iommu.ts';
import { setDefaultPollBudget } from '../../runtime/binding/transport-mux.ts';
import { type CapabilityRef, defineActor } from '../../runtime/index.ts';
import { Driver, type DriverOptions } from './driver.ts';
import { DriverNic, type NicOptions } from './nic.ts';

export interface E1000nArgs {
  readonly device: E1000DriverCaps;
  /** The name clients look the driver up by. Default 'ether'. */
  readonly service?: string;
  readonly nic?: NicOptions;
  readonly driver?: DriverOptions;
  /** Turns of the event loop to poll the device after work before sleeping on the interrupt line. Default 4. */
  readonly pollTurns?: number;
  /** Turns each client ring is looked at again before its reader sleeps (the runtime's default otherwise). */
  readonly ringPollTurns?: number;
}

export default defineActor(async (ctx, args: E1000nArgs) => {
  const caps = ctx.caps as Record<string, CapabilityRef | undefined>;
  if (!caps.netd || !caps.iommu) {
    throw new Error('e1000n needs the capabilities `netd` (export ether_netd) and `iommu` (connect)');
  }
  if (args.ringPollTurns !== undefined)
    setDefaultPollBudget(
      numberOption('e1000n', 'ringPollTurns', args.ringPollTurns, { min: 0, max: 1_000_000, integer: true }),
    );
  const nic = new DriverNic(args.device, args.nic);
  await nic.bringUp();
  const mmu = await ctx.connect(iommu, caps.iommu);
  const driver = new Driver(
    nic,
    {
      map: async (mem) => Number((await mmu.rpc.map(mem)).base),
      unmap: async (base) => {
        await mmu.rpc.unmap(BigInt(base));
      },
    },
    args.driver,
  );

  let running = true;
  const pollTurns = numberOption(
    'e1000n',
    'pollTurns',
    args.pollTurns,
    { min: 0, max: 1_000_000, integer: true },
    4,
  );
  const loop = (async () => {
    let idle = 0;
    while (running) {
      if (driver.service() > 0) idle = 0;
      else if (++idle > pollTurns) {
        idle = 0;
        // Nothing to do: sleep until the device interrupts (at most a second, for fragment expiry).
        const r = await nic.bus.waitInterrupt(1000);
        if (r === 'gone') break;
        if (r === 'interrupt') nic.bus.read32(R.ICR);
        continue;
      }
      await new Promise((r) => setImmediate(r));
    }
  })();

  // The data path's rings: room for a burst of a whole receive ring per client.
  await ctx.serve(ether, args.service ?? 'ether', (ep) => driver.client(ep), {
    ring: { capacity: 2048, maxCapacity: 8192 },
  });
  await ctx.serve(ether_netd, caps.netd, (ep) => driver.netd(ep));
  ctx.onShutdown(async () => {
    running = false;
    driver.releases.close();
    nic.shutDown();
    await Promise.race([loop, new Promise((r) => setTimeout(r, 1500))]);
  });

  return {
    /** Everything the driver counted: device, receive and transmit paths, fragments, each client, each filter. */
    statistics: () => driver.statistics(),
    filters: () => driver.filters.list(),
    mac: () => nic.mac,
    /** Resolves true once `actor` holds no session, buffer or filter here (at once if none), false after `timeoutMs`. */
    released: (actor: number, timeoutMs: number) => driver.releases.until(actor, timeoutMs),
  };
});
