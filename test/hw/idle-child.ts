// Run by idle.test.ts in a process of its own: boot a NIC, bring it up with the tiny
// driver waiting for interrupts, then measure the whole process's CPU time while
// nothing happens. Prints JSON.
import { E1000Bus, E1000Nic, regs as R } from '../../hw/e1000/index.ts';
import { TinyDriver } from './driver.ts';
import { NIC_MAC } from './rig.ts';

const seconds = Number(process.argv[2] ?? 5);
const nic = await E1000Nic.start({ mac: NIC_MAC, onLog: () => {} });
const bus = new E1000Bus(nic.driverCaps);
const driver = new TinyDriver(bus, () => new Promise((r) => setTimeout(r, 1)));
await driver.bringUp();
// The driver sleeps on the interrupt line, as a real one does.
let stop = false;
const driverLoop = (async () => {
  while (!stop) {
    if ((await bus.waitInterrupt(60_000)) === 'interrupt') {
      bus.read32(R.ICR);
      driver.receive();
    }
  }
})();
await new Promise((r) => setTimeout(r, 300)); // let bring-up's work settle
const elu0 = performance.eventLoopUtilization();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
const cpu = process.cpuUsage(cpu0);
const wall = (performance.now() - t0) * 1000;
const elu = performance.eventLoopUtilization(elu0);
const stats = nic.stats();
stop = true;
await nic.close();
await driverLoop;
console.log(
  JSON.stringify({
    seconds: wall / 1e6,
    cpuFraction: (cpu.user + cpu.system) / wall,
    userUs: cpu.user,
    systemUs: cpu.system,
    mainEventLoopUtilization: elu.utilization,
    interrupts: stats.interrupts,
  }),
);
