// lib/phy: links. The FramePort contract, the cable, the virtual switch, VXLAN, and
// the middlewares that stand on any link: the pcap tap and the fault injector.
export { CableEnd, type CableOptions, cable } from './cable.ts';
export {
  type FaultCounts,
  type FaultDirection,
  FaultInjector,
  type FaultOptions,
  type FaultStats,
  faultInjector,
} from './fault.ts';
export { FrameRing } from './frame-ring.ts';
export type { Learned, MacEntry } from './mac-table.ts';
export { type CaptureStats, type PcapFileOptions, PcapFileWriter } from './pcap-file.ts';
export { PcapTap, type PcapTapOptions, type PcapTapStats, pcapTap } from './pcap-tap.ts';
export * from './port.ts';
export { Prng } from './prng.ts';
export {
  type SwitchDropCause,
  type SwitchOptions,
  SwitchPort,
  type SwitchPortStats,
  type SwitchStats,
  VirtualSwitch,
} from './switch.ts';
export { type VxlanOptions, VxlanPort, type VxlanRefused, type VxlanStats } from './vxlan.ts';
export * from './vxlan-header.ts';
