// The bfdmux VM: run a verified filter on a packet.
//
// A verdict is 1 (match), 0 (no match), or minus a registry error code
// (-Err.BFDMUX_ERR_LOAD_OUT_OF_BOUNDS, -Err.BFDMUX_ERR_DIV_BY_ZERO; for unverifiable
// code the verifier's error). An error is never a match, and nothing here throws.
//
// A narrow program is compiled once into flat instructions (vm-compile.ts) and
// interpreted (vm-narrow.ts); a wide one (64-bit values) is evaluated on its tree
// (vm-wide.ts).

import { Err } from '../../protocols/errors.ts';
import type { Verdict } from './verdicts.ts';
import { verifyFilter } from './verify.ts';
import { prepare } from './vm-compile.ts';
import type { Prepared } from './vm-isa.ts';
import { runNarrow } from './vm-narrow.ts';
import { runWide } from './vm-wide.ts';

export { DIV_ERROR, LOAD_ERROR, MATCH, NO_MATCH, type Verdict } from './verdicts.ts';
export { prepare } from './vm-compile.ts';
export type { Prepared } from './vm-isa.ts';
export { instructions } from './vm-listing.ts';

// A cache for callers that hand raw code: verified and decoded once per code array.
// A caller may change its array in place later, so the cache keeps its own copy of
// the bytes it verified and uses the entry only while they are still the same.
interface Cached {
  readonly code: Uint8Array;
  readonly prepared: Prepared | number;
}
const cache = new WeakMap<Uint8Array, Cached>();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Verify `code` and prepare it, or the verdict for unverifiable code (minus its error code). */
export function load(code: Uint8Array): Prepared | number {
  const hit = cache.get(code);
  if (hit && sameBytes(hit.code, code)) return hit.prepared;
  const copy = code.slice();
  const v = verifyFilter(copy);
  const prepared = v.ok ? prepare(v.program) : -Err[v.error];
  cache.set(code, { code: copy, prepared });
  return prepared;
}

/**
 * Code as a function of (packet, length), verified and prepared once: the VM's
 * counterpart of jitFilter. The code is copied first, so changing the array later
 * changes nothing.
 */
export function vmFilter(code: Uint8Array): (packet: Uint8Array, length: number) => Verdict {
  const p = load(code.slice());
  if (typeof p === 'number') return () => p;
  return (packet, length) => executeFilter(p, packet, length);
}

/** Run a filter (its code, or a prepared program) on the first `len` bytes of `packet`. */
export function executeFilter(
  filter: Uint8Array | Prepared,
  packet: Uint8Array,
  len = packet.length,
): Verdict {
  const p = filter instanceof Uint8Array ? load(filter) : filter;
  if (typeof p === 'number') return p;
  if (len > packet.length) len = packet.length;
  return p.ins ? runNarrow(p.ins, p.consts!, packet, len) : runWide(p.program.root, packet, len);
}
