// The demux index agrees with running every filter in turn, while filters come and go.
import test from 'ava';
import fc from 'fast-check';
import {
  ANY,
  arpFilter,
  compileFilter,
  DemuxIndex,
  LinearDemux,
  portRxFilter,
  portTxFilter,
  udpFilter,
  vmFilter,
} from '../../lib/bfdmux/index.ts';
import { mac, port, TcpFlag, tcpFrame, udpFrame } from '../../lib/net/index.ts';
import { arbitraryExpr, print } from '../helpers/filters.ts';
import { HOST_IP, HOST_MAC, PEER_IP, PEER_MAC, variedFrames } from '../helpers/frames.ts';

const PORTS = [53, 68, 80, 5000, 5001, 5002];
const OTHER_MAC = mac('02:00:00:00:00:07');

const filterArb = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record({
        type: fc.constantFrom('udp' as const, 'tcp' as const),
        port: fc.constantFrom(...PORTS),
        tx: fc.boolean(),
        broadcast: fc.boolean(),
        fixed: fc.boolean(),
        otherMac: fc.boolean(),
      })
      .map(({ type, port: p, tx, broadcast, fixed, otherMac }) => {
        const spec = {
          mac: otherMac ? OTHER_MAC : HOST_MAC,
          ip: HOST_IP,
          type,
          port: port(p),
          ipHeader: fixed ? ('fixed20' as const) : ('options' as const),
        };
        return tx ? portTxFilter(spec) : portRxFilter({ ...spec, broadcast });
      }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      arpFilter(),
      udpFilter(ANY, port(53)),
      '1',
      '0',
      'int8[23] == 17 || int8[23] == 6',
    ),
  },
  { weight: 2, arbitrary: arbitraryExpr(4).map(print) },
);

const packets = (() => {
  const out = variedFrames().map((f) => f.bytes);
  for (const p of PORTS) {
    for (const dstMac of [HOST_MAC, OTHER_MAC]) {
      out.push(udpFrame({ dstMac, srcMac: PEER_MAC, src: PEER_IP, dst: HOST_IP, srcPort: 1024, dstPort: p }));
      out.push(
        tcpFrame({
          dstMac,
          srcMac: PEER_MAC,
          src: PEER_IP,
          dst: HOST_IP,
          srcPort: 1024,
          dstPort: p,
          seq: 0,
          flags: TcpFlag.SYN,
        }),
      );
      out.push(
        udpFrame({ dstMac: PEER_MAC, srcMac: dstMac, src: HOST_IP, dst: PEER_IP, srcPort: p, dstPort: 9 }),
      );
    }
  }
  return out;
})();

const sorted = (xs: ArrayLike<number>, n: number) =>
  Array.from(xs)
    .slice(0, n)
    .sort((a, b) => a - b);

test('classify and first agree with the linear scan through random registrations and removals', (t) => {
  const op = fc.oneof(
    { weight: 3, arbitrary: filterArb.map((expr) => ({ kind: 'add' as const, expr })) },
    { weight: 1, arbitrary: fc.nat().map((k) => ({ kind: 'remove' as const, k })) },
  );
  let checks = 0;
  let matched = 0;
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), (ops) => {
      const index = new DemuxIndex<string>();
      const linear = new LinearDemux<string>(vmFilter);
      const live: number[] = [];
      let next = 0;
      const a = new Int32Array(4096);
      const b = new Int32Array(4096);
      for (const o of ops) {
        if (o.kind === 'add') {
          const { code } = compileFilter(o.expr);
          const id = next++;
          index.register(id, code, `owner-${id}`);
          linear.register(id, code, `owner-${id}`);
          live.push(id);
        } else if (live.length) {
          const id = live.splice(o.k % live.length, 1)[0]!;
          if (!index.deregister(id) || !linear.deregister(id)) return false;
        }
        for (const p of packets) {
          const n1 = index.classify(p, p.length, a);
          const n2 = linear.classify(p, p.length, b);
          const n3 = index.classifyInterpreted(p, p.length, a.subarray(2048));
          checks++;
          matched += n2;
          const want = sorted(b, n2);
          if (JSON.stringify(sorted(a, n1)) !== JSON.stringify(want)) return false;
          if (JSON.stringify(sorted(a.subarray(2048), n3)) !== JSON.stringify(want)) return false;
          if (index.first(p) !== linear.first(p)) return false;
        }
      }
      return index.size === live.length;
    }),
    { numRuns: 60 },
  );
  t.true(matched > 1000, `the packets do match filters (${matched} matches in ${checks} checks)`);
});

test('port filters share their atoms: 1,000 ports make one chain and one table', (t) => {
  const index = new DemuxIndex<number>();
  for (let i = 0; i < 1000; i++) {
    index.register(
      i,
      compileFilter(portRxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'udp', port: port(10000 + i) })).program,
      i,
    );
  }
  const s = index.stats();
  t.is(s.filters, 1000);
  t.is(s.residuals, 0, 'every part of a port filter is an atom');
  t.is(s.nodes, 1000 + 8, 'eight shared levels, then one leaf per port');
  const p = udpFrame({
    dstMac: HOST_MAC,
    srcMac: PEER_MAC,
    src: PEER_IP,
    dst: HOST_IP,
    srcPort: 1,
    dstPort: 10500,
  });
  t.deepEqual(index.owners(p), [500]);
  t.is(index.first(p), 500);
  for (let i = 0; i < 1000; i++) t.true(index.deregister(i));
  t.deepEqual(index.stats(), { filters: 0, nodes: 1, residuals: 0, neverMatch: 0 });
  t.deepEqual(index.owners(p), []);
});

test('first match wins in registration order; a filter that can never match is kept and removable', (t) => {
  const index = new DemuxIndex<string>();
  const p = udpFrame({
    dstMac: HOST_MAC,
    srcMac: PEER_MAC,
    src: PEER_IP,
    dst: HOST_IP,
    srcPort: 1,
    dstPort: 53,
  });
  index.register(7, compileFilter(udpFilter(ANY, port(53))).code, 'late-specific');
  index.register(3, compileFilter('int16[12] == 0x800').code, 'ip');
  t.is(index.first(p), 7, 'registered first, though its id is larger');
  index.register(9, compileFilter('int8[23] == 300').code, 'never');
  t.is(index.stats().neverMatch, 1);
  t.deepEqual(index.owners(p).sort(), ['ip', 'late-specific']);
  t.true(index.deregister(9));
  t.false(index.deregister(9));
});

test('bad registrations are refused with registry errors', (t) => {
  const index = new DemuxIndex();
  const ok = compileFilter('1').code;
  index.register(1, ok, 1);
  t.throws(() => index.register(1, ok, 1), { message: /FILTER_ERR_FILTER_BUSY.*filter id 1 is registered/ });
  t.throws(() => index.register(-1, ok, 1), { message: /filter id must be an integer/ });
  t.throws(() => index.register(2, Uint8Array.of(0x99), 1), { message: /BFDMUX_ERR_BAD_OPCODE/ });
  t.is(index.size, 1);
});
