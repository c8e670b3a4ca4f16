// The embedding API: networks (a virtual switch, VXLAN) and machines on them.

export { APPS, type AppEntry } from './apps.ts';
export {
  type AppSpec,
  createNetwork,
  FishnetMachine,
  FishnetNetwork,
  type NetworkOptions,
} from './fishnet.ts';
export { Machine, type MachineInspection, type MachineOptions, macFor } from './machine.ts';
export { Network } from './network.ts';
