// A piscina task: filter one slice of a capture file (see pcap-filter.ts).
import { runSlice, type Slice } from './pcap-filter.ts';

export default function filterSlice(task: { code: Uint8Array; slice: Slice }): number[] {
  return runSlice(task.code, task.slice);
}
