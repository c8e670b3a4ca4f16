// hw/e1000: the emulated Intel 8254x NIC. The embedding program starts one with
// E1000Nic.start(); the driver gets nic.driverCaps and drives the device through
// E1000Bus, the register and descriptor definitions, as it would the real card.

export { checkCaps, DmaMemory, E1000Bus, type E1000DriverCaps, type InterruptWait } from './bus.ts';
export * from './descriptors.ts';
export { type DeviceOptions, E1000Device, type LinkSink } from './device.ts';
export {
  EEPROM_CHECKSUM_WORD,
  EEPROM_SUM,
  EEPROM_WORDS,
  eepromChecksumValid,
  eepromImage,
  macFromEepromWords,
} from './eeprom.ts';
export { E1000Nic, type E1000NicOptions } from './nic.ts';
export { PAGE_SIZE, PhysAllocator, PhysMap, Resolved } from './phys.ts';
export * as regs from './regs.ts';
export { COUNTER_NAMES, E1000Counters, type E1000Stats } from './stats.ts';
