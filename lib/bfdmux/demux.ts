// The demux index: which filters match a packet, at a cost that hardly grows with
// the number of filters (after DPF and MPF).
//
// Each filter's top-level conjunction is split into atoms, `field == constant` where
// a field is a load (at a constant offset, or at one computed from the packet, as
// for the transport header after the IPv4 header length), optionally masked, and a
// residual (everything else, run by the JIT). Atoms are ordered the same way for
// every filter and stored in a trie: atoms that filters share are tested once, and
// a field compared against many constants is one hash lookup. With 10,000 port
// filters that differ only in the port, a packet costs the few shared comparisons
// and one Map lookup.
//
// classify() must agree with running every filter in turn (the tests check it):
// a filter matches iff all its atoms hold and its residual matches. Atoms have no
// effects, and a load that fails makes its filter not match whatever the order.

import { FishnetError } from '../../protocols/errors.ts';
import { type FilterFn, jitFilter, jitValue } from './jit.ts';
import { Op } from './opcodes.ts';
import { type PNode, type Program, verifyFilter } from './verify.ts';

/** A field of the packet: `width` bytes at an offset, read big-endian, optionally masked. */
interface Field {
  readonly key: string;
  /** Constant offset, or -1 when computed by `offsetOf`. */
  readonly offset: number;
  readonly offsetOf?: (p: Uint8Array, n: number) => number;
  readonly width: 1 | 2 | 4;
  /** 0 for none. */
  readonly mask: number;
  /** Sort key: constant offsets first, in order, then computed ones. */
  readonly order: readonly [number, number, string];
}

interface Atom {
  readonly field: Field;
  readonly value: number;
}

interface Entry<O> {
  readonly id: number;
  readonly owner: O;
  readonly seq: number;
  readonly residual: FilterFn | undefined;
  readonly atoms: readonly Atom[];
  /** The trie node it hangs from (undefined for a filter that can never match). */
  node: TrieNode<O> | undefined;
}

class Group<O> {
  /** Fast path for a field tested against one constant. */
  soleKey = -1;
  soleChild: TrieNode<O> | undefined;
  readonly children = new Map<number, TrieNode<O>>();
  constructor(readonly field: Field) {}

  reindex(): void {
    if (this.children.size === 1) {
      const [k, c] = this.children.entries().next().value!;
      this.soleKey = k;
      this.soleChild = c;
    } else {
      this.soleKey = -1;
      this.soleChild = undefined;
    }
  }
}

class TrieNode<O> {
  readonly groups: Group<O>[] = [];
  readonly entries: Entry<O>[] = [];
  constructor(
    readonly parent: TrieNode<O> | undefined,
    readonly via: { group: Group<O>; value: number } | undefined,
  ) {}
}

export interface DemuxStats {
  readonly filters: number;
  readonly nodes: number;
  readonly residuals: number;
  readonly neverMatch: number;
}

export class DemuxIndex<O = number> {
  private readonly root = new TrieNode<O>(undefined, undefined);
  private readonly byId = new Map<number, Entry<O>>();
  private readonly fields = new Map<string, Field>();
  private seq = 0;
  private nodes = 1;
  /** The trie compiled to a function; rebuilt on the first classify after a change. */
  private compiled: Classifier | undefined;

  get size(): number {
    return this.byId.size;
  }

  /** Add a filter (its code, or a verified program). Throws a FishnetError for bad code or a taken id. */
  register(filterId: number, filter: Uint8Array | Program, owner: O): void {
    if (!(Number.isInteger(filterId) && filterId >= 0 && filterId <= 0x7fff_ffff)) {
      throw new FishnetError('RT_ERR_BAD_SPEC', `filter id must be an integer in 0..2^31-1, not ${filterId}`);
    }
    if (this.byId.has(filterId))
      throw new FishnetError('FILTER_ERR_FILTER_BUSY', `filter id ${filterId} is registered`);
    let program: Program;
    if (filter instanceof Uint8Array) {
      const v = verifyFilter(filter);
      if (!v.ok) throw new FishnetError(v.error, `filter ${filterId}: ${v.reason} at byte ${v.at}`);
      program = v.program;
    } else program = filter;

    const atoms: Atom[] = [];
    const rest: PNode[] = [];
    let never = false;
    for (const c of conjuncts(program.root)) {
      const a = this.atomOf(c);
      if (a === undefined) rest.push(c);
      else if (a === 'never') never = true;
      else atoms.push(a);
    }
    atoms.sort((x, y) => compareField(x.field, y.field) || x.value - y.value);
    // The same field twice with different constants can never hold.
    for (let i = 1; i < atoms.length; i++) {
      if (atoms[i]!.field === atoms[i - 1]!.field && atoms[i]!.value !== atoms[i - 1]!.value) never = true;
    }
    const unique = atoms.filter((a, i) => i === 0 || a.field !== atoms[i - 1]!.field);
    const residual = rest.length ? residualFn(rest) : undefined;
    const entry: Entry<O> = {
      id: filterId,
      owner,
      seq: this.seq++,
      residual,
      atoms: unique,
      node: undefined,
    };
    this.byId.set(filterId, entry);
    if (never) return;
    let node = this.root;
    for (const a of unique) {
      let g = node.groups.find((x) => x.field === a.field);
      if (!g) {
        g = new Group<O>(a.field);
        node.groups.push(g);
      }
      let child = g.children.get(a.value);
      if (!child) {
        child = new TrieNode<O>(node, { group: g, value: a.value });
        g.children.set(a.value, child);
        g.reindex();
        this.nodes++;
      }
      node = child;
    }
    node.entries.push(entry);
    entry.node = node;
    this.compiled = undefined;
  }

  /** Remove a filter; false if no such filter. */
  deregister(filterId: number): boolean {
    const e = this.byId.get(filterId);
    if (!e) return false;
    this.byId.delete(filterId);
    this.compiled = undefined;
    if (!e.node) return true;
    let node: TrieNode<O> = e.node;
    node.entries.splice(node.entries.indexOf(e), 1);
    // Prune the branch that no filter needs any more.
    while (node.parent && node.entries.length === 0 && node.groups.length === 0) {
      const { group, value } = node.via!;
      group.children.delete(value);
      group.reindex();
      this.nodes--;
      const parent = node.parent;
      if (group.children.size === 0) parent.groups.splice(parent.groups.indexOf(group), 1);
      node = parent;
    }
    return true;
  }

  /** The ids of every filter that matches, into `out`; returns how many. */
  classify(packet: Uint8Array, len: number, out: Int32Array | number[]): number {
    if (len > packet.length) len = packet.length;
    const f = (this.compiled ??= compileTrie(this.root, (node, p, n, o, c) => this.walk(node, p, n, o, c)));
    return f(packet, len, out, 0);
  }

  /** classify() by walking the trie, without the compiled form (for tests and comparison). */
  classifyInterpreted(packet: Uint8Array, len: number, out: Int32Array | number[]): number {
    if (len > packet.length) len = packet.length;
    return this.walk(this.root, packet, len, out, 0);
  }

  /** The matching filter registered first (first match wins), or -1. */
  first(packet: Uint8Array, len = packet.length): number {
    const n = this.classify(packet, len, scratch);
    let best = -1;
    let bestSeq = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const e = this.byId.get(scratch[i]!)!;
      if (e.seq < bestSeq) {
        bestSeq = e.seq;
        best = e.id;
      }
    }
    return best;
  }

  /** The owners of every matching filter (allocates; for tools and tests). */
  owners(packet: Uint8Array, len = packet.length): O[] {
    const out: number[] = [];
    this.classify(packet, len, out);
    return out.map((id) => this.byId.get(id)!.owner);
  }

  ownerOf(filterId: number): O | undefined {
    return this.byId.get(filterId)?.owner;
  }

  stats(): DemuxStats {
    let residuals = 0;
    let never = 0;
    for (const e of this.byId.values()) {
      if (e.residual) residuals++;
      if (!e.node) never++;
    }
    return { filters: this.byId.size, nodes: this.nodes, residuals, neverMatch: never };
  }

  private walk(
    node: TrieNode<O>,
    p: Uint8Array,
    n: number,
    out: Int32Array | number[],
    count: number,
  ): number {
    for (;;) {
      const es = node.entries;
      for (let i = 0; i < es.length; i++) {
        const e = es[i]!;
        if (e.residual === undefined || e.residual(p, n) === 1) out[count++] = e.id;
      }
      const gs = node.groups;
      // One field below (the common case: a chain of shared atoms): follow it without recursing.
      if (gs.length === 1) {
        const child = probe(gs[0]!, p, n);
        if (child === undefined) return count;
        node = child;
        continue;
      }
      for (let i = 0; i < gs.length; i++) {
        const child = probe(gs[i]!, p, n);
        if (child !== undefined) count = this.walk(child, p, n, out, count);
      }
      return count;
    }
  }

  /** `field == constant` (either way round), or undefined if `c` is not an atom; 'never' if it cannot hold. */
  private atomOf(c: PNode): Atom | 'never' | undefined {
    if (c.op !== Op.EQUAL) return undefined;
    const [x, k] = c.b!.value !== undefined ? [c.a!, c.b!] : c.a!.value !== undefined ? [c.b!, c.a!] : [];
    if (!x || !k) return undefined;
    let load = x;
    let m: bigint | undefined;
    if (x.op === Op.BAND) {
      const [l, mk] = x.b!.value !== undefined ? [x.a!, x.b!] : x.a!.value !== undefined ? [x.b!, x.a!] : [];
      if (!l || !mk || mk.value! <= 0n) return undefined;
      load = l;
      m = mk.value!;
    }
    if (load.width === undefined || load.width === 8) return undefined;
    const width = load.width;
    const value = k.value!;
    const max = (1n << BigInt(8 * width)) - 1n;
    // Bits of the mask beyond the field's width never survive; a full mask is no mask.
    if (m !== undefined) m &= max;
    if (m === 0n) return undefined;
    const mask = m === undefined || m === max ? 0 : Number(m);
    if (value < 0n || value > max || (mask !== 0 && (value & ~BigInt(mask)) !== 0n)) return 'never';
    const off = load.a!;
    let field: Field;
    if (off.value !== undefined) {
      if (off.value < 0n || off.value > 0x7fff_ffffn) return undefined;
      field = this.field(`${off.value}/${width}/${mask}`, Number(off.value), undefined, width, mask);
    } else {
      if (!off.narrow) return undefined;
      const key = `(${serialize(off)})/${width}/${mask}`;
      field = this.field(key, -1, off, width, mask);
    }
    return { field, value: Number(value) };
  }

  private field(
    key: string,
    offset: number,
    offsetNode: PNode | undefined,
    width: 1 | 2 | 4,
    mask: number,
  ): Field {
    let f = this.fields.get(key);
    if (!f) {
      f = {
        key,
        offset,
        offsetOf: offsetNode ? jitValue(offsetNode) : undefined,
        width,
        mask,
        order: [offset >= 0 ? 0 : 1, offset, key],
      };
      this.fields.set(key, f);
    }
    return f;
  }
}

const scratch = new Int32Array(65536);

type Classifier = (p: Uint8Array, n: number, out: Int32Array | number[], count: number) => number;
type Walker<O> = (
  node: TrieNode<O>,
  p: Uint8Array,
  n: number,
  out: Int32Array | number[],
  count: number,
) => number;

/** Groups with at most this many values are compiled as comparisons; more become a Map lookup. */
const INLINE_VALUES = 4;
/** Deeper than this (or below a Map lookup) the trie is walked, not compiled. */
const MAX_COMPILED_DEPTH = 24;

/**
 * The trie as straight-line code: loads and comparisons for the shared atoms, a Map
 * lookup where a field fans out, the interpreter below that. The code holds only
 * offsets, widths, masks, values and filter ids, all numbers from the trie.
 */
function compileTrie<O>(root: TrieNode<O>, walk: Walker<O>): Classifier {
  const refs: unknown[] = [];
  const ref = (x: unknown) => `R[${refs.push(x) - 1}]`;
  let vars = 0;
  const node = (t: TrieNode<O>, depth: number, indent: string): string => {
    const lines: string[] = [];
    for (const e of t.entries) {
      lines.push(
        e.residual ? `if (${ref(e.residual)}(p, n) === 1) out[c++] = ${e.id};` : `out[c++] = ${e.id};`,
      );
    }
    for (const g of t.groups) {
      const f = g.field;
      const o = `o${vars}`;
      const v = `v${vars++}`;
      const off = f.offset >= 0 ? String(f.offset) : o;
      const read =
        f.width === 1
          ? `p[${off}]`
          : f.width === 2
            ? `((p[${off}] << 8) | p[${off} + 1])`
            : `(((p[${off}] << 24) | (p[${off} + 1] << 16) | (p[${off} + 2] << 8) | p[${off} + 3]) >>> 0)`;
      const value = f.mask ? `((${read} & ${f.mask}) >>> 0)` : read;
      const body: string[] = [];
      if (f.offset < 0)
        body.push(`const ${o} = ${ref(f.offsetOf)}(p, n);`, `if (${o} >= 0 && ${o} + ${f.width} <= n) {`);
      else body.push(`if (n >= ${f.offset + f.width}) {`);
      body.push(`  const ${v} = ${value};`);
      if (g.children.size <= INLINE_VALUES && depth < MAX_COMPILED_DEPTH) {
        for (const [k, child] of g.children) {
          body.push(`  if (${v} === ${k}) {`, node(child, depth + 1, '    '), '  }');
        }
      } else {
        // A fan-out: a table indexed by the value (8- and 16-bit fields) or a Map. An
        // entry is the id of the one filter that ends there (>= 0), or -2 - k for
        // subtree k, walked by the interpreter.
        const subtrees: TrieNode<O>[] = [];
        const code = (child: TrieNode<O>) =>
          child.groups.length === 0 && child.entries.length === 1 && !child.entries[0]!.residual
            ? child.entries[0]!.id
            : -2 - (subtrees.push(child) - 1);
        const bits = f.mask ? 32 - Math.clz32(f.mask) : 8 * f.width;
        if (bits <= 16) {
          const table = new Int32Array(1 << bits).fill(-1);
          for (const [k, child] of g.children) table[k] = code(child);
          body.push(`  const x = ${ref(table)}[${v}];`);
        } else {
          const map = new Map<number, number>();
          for (const [k, child] of g.children) map.set(k, code(child));
          body.push(`  const x = ${ref(map)}.get(${v}) ?? -1;`);
        }
        body.push(
          '  if (x >= 0) out[c++] = x;',
          `  else if (x < -1) c = W(${ref(subtrees)}[-2 - x], p, n, out, c);`,
        );
      }
      body.push('}');
      lines.push(...body);
    }
    return lines.map((l) => (l.startsWith('\n') ? l : indent + l.split('\n').join(`\n${indent}`))).join('\n');
  };
  const src = `return (p, n, out, c) => {\n${node(root, 0, '  ')}\n  return c;\n};`;
  return new Function('R', 'W', src)(refs, walk) as Classifier;
}

/** The child for the value of a group's field in this packet (undefined: no child, or the load fails). */
function probe<O>(g: Group<O>, p: Uint8Array, n: number): TrieNode<O> | undefined {
  const f = g.field;
  const o = f.offset >= 0 ? f.offset : f.offsetOf!(p, n);
  if (o < 0 || o + f.width > n) return undefined; // the load fails: no filter below can match
  let v =
    f.width === 1
      ? p[o]!
      : f.width === 2
        ? (p[o]! << 8) | p[o + 1]!
        : ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0;
  if (f.mask !== 0) v = (v & f.mask) >>> 0;
  return g.children.size === 1 ? (v === g.soleKey ? g.soleChild : undefined) : g.children.get(v);
}

function compareField(a: Field, b: Field): number {
  return (
    a.order[0] - b.order[0] ||
    a.order[1] - b.order[1] ||
    (a.order[2] < b.order[2] ? -1 : a.order[2] > b.order[2] ? 1 : 0)
  );
}

/** The operands of the top-level && chain. */
function conjuncts(n: PNode): PNode[] {
  const out: PNode[] = [];
  const stack = [n];
  while (stack.length) {
    const x = stack.pop()!;
    if (x.op === Op.AND) stack.push(x.b!, x.a!);
    else out.push(x);
  }
  return out;
}

/**
 * Residuals as functions, shared: the filters of many ports differ only in their
 * atoms (a port, an address), so their residuals have the same text, and compiling
 * one to a function (~50 µs) once serves them all. Bounded: oldest out first.
 */
const residuals = new Map<string, FilterFn>();
const MAX_RESIDUALS = 4096;

function residualFn(parts: PNode[]): FilterFn {
  const key = parts.map(serialize).join(' & ');
  let f = residuals.get(key);
  if (f === undefined) {
    f = jitFilter(residualProgram(parts));
    if (residuals.size >= MAX_RESIDUALS) residuals.delete(residuals.keys().next().value!);
    residuals.set(key, f);
  }
  return f;
}

function residualProgram(parts: PNode[]): Program {
  let root = parts[0]!;
  for (const p of parts.slice(1)) {
    root = { op: Op.AND, at: 0, a: root, b: p, lo: 0n, hi: 1n, narrow: root.narrow && p.narrow };
  }
  return {
    code: new Uint8Array(0),
    root,
    narrow: root.narrow,
    lastByteRead: Number.POSITIVE_INFINITY,
    loads: 0,
  };
}

/** A canonical text of an expression, to tell computed offsets apart. */
function serialize(n: PNode): string {
  if (n.value !== undefined) return String(n.value);
  return `${n.op}${n.width ?? ''}(${n.a ? serialize(n.a) : ''}${n.b ? `,${serialize(n.b)}` : ''})`;
}

/**
 * The paper's design, for comparison and as the index's oracle: run every filter in
 * turn. `compile` turns code into a function once (the VM's prepared program, or the JIT's).
 */
export class LinearDemux<O = number> {
  private readonly filters: { id: number; owner: O; run: (p: Uint8Array, n: number) => number }[] = [];

  constructor(private readonly compile: (code: Uint8Array) => (p: Uint8Array, n: number) => number) {}

  register(filterId: number, code: Uint8Array, owner: O): void {
    this.filters.push({ id: filterId, owner, run: this.compile(code) });
  }

  deregister(filterId: number): boolean {
    const i = this.filters.findIndex((f) => f.id === filterId);
    if (i < 0) return false;
    this.filters.splice(i, 1);
    return true;
  }

  classify(packet: Uint8Array, len: number, out: Int32Array | number[]): number {
    let n = 0;
    const fs = this.filters;
    for (let i = 0; i < fs.length; i++) if (fs[i]!.run(packet, len) === 1) out[n++] = fs[i]!.id;
    return n;
  }

  first(packet: Uint8Array, len = packet.length): number {
    for (const f of this.filters) if (f.run(packet, len) === 1) return f.id;
    return -1;
  }
}
