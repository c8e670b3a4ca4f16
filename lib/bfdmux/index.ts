// lib/bfdmux: the filter language, its compiler, verifier, VM, JIT, the builders,
// and the merged demux index.
export type { Expr } from './ast.ts';
export * from './builders.ts';
export { type CompiledFilter, compileFilter, fromHex, toHex } from './compile.ts';
export { DemuxIndex, type DemuxStats, LinearDemux } from './demux.ts';
export { decompile, disassemble } from './disasm.ts';
export { FilterError } from './errors.ts';
export { type FilterFn, jitFilter, jitSource } from './jit.ts';
export { MAX_CODE, Op } from './opcodes.ts';
export { parseFilter } from './parse.ts';
export { type PNode, type Program, type VerifyResult, verifyFilter } from './verify.ts';
export {
  DIV_ERROR,
  executeFilter,
  instructions,
  LOAD_ERROR,
  load,
  MATCH,
  NO_MATCH,
  type Prepared,
  prepare,
  type Verdict,
  vmFilter,
} from './vm.ts';
