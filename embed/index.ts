// The embedding API: networks (a virtual switch, VXLAN) and machines on them.
export { Machine, type MachineInspection, type MachineOptions, macFor } from './machine.ts';
export { Network } from './network.ts';
