// The device model's transmit path: gather, EOP, RS/DD write-back, padding, FCS,
// checksum insertion, statistics and the ring, turn by turn.
import test from 'ava';
import { appendFcs } from '../../hw/e1000/fcs.ts';
import {
  DESC_BYTES,
  regs as R,
  TXD_CMD_DEXT,
  TXD_CMD_EOP,
  TXD_CMD_IC,
  TXD_CMD_IFCS,
  TXD_CMD_RS,
  TXD_CMD_VLE,
  TxDescriptor,
  txStatus,
  writeTx,
} from '../../hw/e1000/index.ts';
import { ipv4 } from '../../lib/net/addr.ts';
import { checksumValid, pseudoHeaderSum } from '../../lib/net/checksum.ts';
import { udpFrame } from '../../lib/net/frames.ts';
import { BROADCAST, frame, NIC_MAC, PEER_MAC, Rig } from './rig.ts';

const EOP_IFCS_RS = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS;

/** Put `parts` in the transmit ring from descriptor `first` on, with per-descriptor commands. */
function post(rig: Rig, first: number, parts: Uint8Array[], cmds: number[], css = 0, cso = 0): number {
  const d = rig.driver;
  const dma = rig.bus.dma;
  let i = first;
  for (const [k, p] of parts.entries()) {
    const off = d.txBuffers + i * 2048;
    dma.bytes.set(p, off);
    writeTx(dma.words, d.txAt(i), dma.phys(off), p.length, cmds[k]!, { css, cso });
    i = (i + 1) % d.layout.txCount;
  }
  return i;
}

test('transmit: one descriptor per frame, RS writes back DD, TXDW and TXQE, TDH follows TDT', async (t) => {
  const rig = new Rig();
  await rig.up();
  const frames = [frame(PEER_MAC, 60, 1), frame(PEER_MAC, 1514, 2), frame(BROADCAST, 100, 3)];
  t.true(rig.driver.transmit(frames));
  t.is(rig.sent.length, 0, 'nothing before the device runs');
  rig.turn();
  t.deepEqual(rig.sent, frames);
  t.is(rig.bus.read32(R.TDH), 3);
  for (let i = 0; i < 3; i++) t.is(txStatus(rig.bus.dma.words, rig.driver.txAt(i)), 1, `descriptor ${i} DD`);
  t.is(rig.bus.read32(R.ICR), R.INT_TXDW | R.INT_TXQE);
  t.is(rig.driver.reclaim(), 3);
  const c = rig.device.counters;
  t.is(c.framesOut, 3);
  t.is(c.bytesOut, 60 + 1514 + 100);
});

test('gather: a frame over three descriptors is sent once, at EOP; DD only where RS was set', async (t) => {
  const rig = new Rig();
  await rig.up();
  const f = frame(PEER_MAC, 700, 9);
  const parts = [f.subarray(0, 14), f.subarray(14, 300), f.subarray(300)];
  const end = post(rig, 0, parts, [TXD_CMD_RS, 0, EOP_IFCS_RS]);
  rig.bus.write32(R.TDT, 2); // the first two only: no EOP yet
  rig.turn();
  t.is(rig.sent.length, 0);
  t.is(rig.bus.read32(R.TDH), 2);
  const words = rig.bus.dma.words;
  t.is(txStatus(words, rig.driver.txAt(0)), 1, 'RS: written back');
  t.is(txStatus(words, rig.driver.txAt(1)), 0, 'no RS: not written back');
  rig.bus.write32(R.TDT, end);
  rig.turn();
  t.deepEqual(rig.sent, [f]);
  t.is(txStatus(words, rig.driver.txAt(2)), 1);
  // Write-back keeps CSS and special and sets only DD.
  const d = new TxDescriptor().read(words, rig.driver.txAt(2));
  t.is(d.sta, 1);
  t.is(d.length, 400);
  t.is(d.cmd, EOP_IFCS_RS);
});

test('PSP pads short frames with zeros to 60 bytes; without PSP they go as they are', async (t) => {
  const rig = new Rig();
  await rig.up();
  const short = frame(PEER_MAC, 42, 5);
  rig.driver.transmit([short]);
  rig.turn();
  const padded = new Uint8Array(60);
  padded.set(short);
  t.deepEqual(rig.sent[0], padded);
  rig.bus.write32(R.TCTL, R.TCTL_EN);
  rig.turn();
  rig.driver.transmit([short]);
  rig.turn();
  t.deepEqual(rig.sent[1], short);
  rig.device.flushStats();
  t.is(rig.bus.read32(R.GPTC), 2);
  t.is(rig.bus.read32(R.GOTCL), 64 + 46, 'octets with FCS, after padding');
  t.is(rig.bus.read32(R.GOTCH), 0);
  t.is(rig.bus.read32(R.TPT), 2);
  t.is(rig.bus.read32(R.PTC64), 2);
});

test('statistics count transmitted broadcast and multicast frames (BPTC, MPTC) and the size bins', async (t) => {
  const rig = new Rig();
  await rig.up();
  rig.driver.transmit([frame(BROADCAST, 100), frame(0x01005e000001 as never, 300), frame(PEER_MAC, 1514)]);
  rig.turn();
  t.is(rig.bus.read32(R.BPTC), 1);
  t.is(rig.bus.read32(R.MPTC), 1);
  t.is(rig.bus.read32(R.PTC127), 1);
  t.is(rig.bus.read32(R.PTC511), 1);
  t.is(rig.bus.read32(R.PTC1522), 1);
  t.is(rig.bus.read32(R.TOTL), 104 + 304 + 1518);
});

test('IFCS clear: a correct FCS supplied by the driver is stripped; a wrong one drops the frame', async (t) => {
  const rig = new Rig();
  await rig.up();
  const f = frame(PEER_MAC, 100, 4);
  const withFcs = new Uint8Array(104);
  withFcs.set(f);
  appendFcs(withFcs, 0, 100);
  rig.driver.transmit([withFcs], TXD_CMD_EOP | TXD_CMD_RS);
  rig.turn();
  t.deepEqual(rig.sent, [f]);
  withFcs[50] ^= 1;
  rig.driver.transmit([withFcs], TXD_CMD_EOP | TXD_CMD_RS);
  rig.turn();
  t.is(rig.sent.length, 1);
  const c = rig.device.counters;
  t.is(c.txBadFcs, 1);
  t.is(c.programmingErrors, 1);
  t.is(txStatus(rig.bus.dma.words, rig.driver.txAt(1)), 1, 'the descriptor is still done');
  t.true(rig.logs.some((l) => l.kind === 'tx-fcs'));
});

test('CMD.IC: the checksum from CSS to the end is inserted at CSO, the field seeded with the pseudo-header sum', async (t) => {
  const rig = new Rig();
  await rig.up();
  const src = ipv4('10.0.0.2');
  const dst = ipv4('10.0.0.9');
  const payload = Uint8Array.from({ length: 333 }, (_, i) => i * 13);
  const good = udpFrame({
    dstMac: PEER_MAC,
    srcMac: NIC_MAC,
    src,
    dst,
    srcPort: 1000,
    dstPort: 2000,
    payload,
  });
  const udpLength = good.length - 34;
  const f = good.slice();
  const seed = pseudoHeaderSum(src, dst, 17, udpLength);
  f[40] = seed >>> 8;
  f[41] = seed & 0xff;
  post(rig, 0, [f.subarray(0, 34), f.subarray(34)], [0, EOP_IFCS_RS | TXD_CMD_IC], 34, 40);
  rig.bus.write32(R.TDT, 2);
  rig.turn();
  const out = rig.sent[0]!;
  t.true(checksumValid(out, 34, udpLength, pseudoHeaderSum(src, dst, 17, udpLength)));
  t.deepEqual(out, good);
  // Offsets outside the frame: counted, the frame goes without a checksum inserted.
  post(rig, 2, [frame(PEER_MAC, 100)], [EOP_IFCS_RS | TXD_CMD_IC], 34, 250);
  rig.bus.write32(R.TDT, 3);
  rig.turn();
  t.is(rig.sent.length, 2);
  t.is(rig.device.counters.programmingErrors, 1);
});

test('frames the model cannot send are dropped and counted by cause; their descriptors still complete', async (t) => {
  const rig = new Rig({ txCount: 16 });
  await rig.up();
  const c = rig.device.counters;
  // Extended descriptor; VLAN insertion; oversize (1519 bytes); runt without PSP (10 bytes); empty.
  let i = post(rig, 0, [frame(PEER_MAC, 100)], [EOP_IFCS_RS | TXD_CMD_DEXT]);
  i = post(rig, i, [frame(PEER_MAC, 100)], [EOP_IFCS_RS | TXD_CMD_VLE]);
  i = post(rig, i, [frame(PEER_MAC, 1000), frame(PEER_MAC, 519)], [0, EOP_IFCS_RS]);
  rig.bus.write32(R.TDT, i);
  rig.turn();
  rig.bus.write32(R.TCTL, R.TCTL_EN);
  rig.turn();
  i = post(rig, i, [frame(PEER_MAC, 14).subarray(0, 10)], [EOP_IFCS_RS]);
  i = post(rig, i, [new Uint8Array(0)], [EOP_IFCS_RS]);
  rig.bus.write32(R.TDT, i);
  rig.turn();
  t.is(rig.sent.length, 0);
  t.is(c.txUnsupported, 2);
  t.is(c.txOversize, 1);
  t.is(c.txRunt, 2);
  t.is(rig.bus.read32(R.TDH), i);
  t.is(rig.driver.reclaim(), 0, 'the tiny driver did not post these; check DD directly');
  for (let k = 0; k < i; k++) {
    if (k === 2) continue; // the first half of the oversize frame had no RS
    t.is(txStatus(rig.bus.dma.words, rig.driver.txAt(k)), 1, `descriptor ${k}`);
  }
  t.is(rig.logs.filter((l) => l.kind === 'tx-dext' || l.kind === 'tx-vle').length, 2);
});

test('nothing is sent while TCTL.EN is clear or the link is down; the descriptors wait', async (t) => {
  const rig = new Rig();
  await rig.up();
  rig.bus.write32(R.TCTL, 0);
  rig.driver.transmit([frame(PEER_MAC, 64)]);
  rig.turn();
  t.is(rig.sent.length, 0);
  t.is(rig.bus.read32(R.TDH), 0);
  t.false(rig.device.transmitPending());
  rig.bus.write32(R.TCTL, R.TCTL_EN);
  rig.bus.write32(R.CTRL, 0);
  rig.turn();
  t.is(rig.sent.length, 0);
  rig.bus.write32(R.CTRL, R.CTRL_SLU);
  rig.turn();
  t.is(rig.sent.length, 1);
});

test('disabling the transmitter in the middle of a frame aborts that frame (txAborted)', async (t) => {
  const rig = new Rig();
  await rig.up();
  const f = frame(PEER_MAC, 200);
  post(rig, 0, [f.subarray(0, 100), f.subarray(100)], [0, EOP_IFCS_RS]);
  rig.bus.write32(R.TDT, 1);
  rig.turn();
  rig.bus.write32(R.TCTL, 0);
  rig.bus.write32(R.TCTL, R.TCTL_EN | R.TCTL_PSP);
  rig.bus.write32(R.TDT, 2);
  rig.turn();
  // TCTL was latched once (both writes before the turn): still enabled, nothing aborted.
  t.is(rig.sent.length, 1);
  post(rig, 2, [f.subarray(0, 100), f.subarray(100)], [0, EOP_IFCS_RS]);
  rig.bus.write32(R.TDT, 3);
  rig.turn();
  rig.bus.write32(R.TCTL, 0);
  rig.turn();
  rig.bus.write32(R.TCTL, R.TCTL_EN);
  rig.bus.write32(R.TDT, 4);
  rig.turn();
  t.is(rig.device.counters.txAborted, 1);
  // The descriptors after the abort start a frame of their own, as the ring says.
  t.is(rig.sent.length, 2);
  t.deepEqual(rig.sent[1], f.subarray(100));
});

test('the link dropping a frame counts wireDropped; the NIC still counts it transmitted', async (t) => {
  const rig = new Rig();
  await rig.up();
  rig.linkAccepts = false;
  rig.driver.transmit([frame(PEER_MAC, 64)]);
  rig.turn();
  t.is(rig.device.counters.wireDropped, 1);
  t.is(rig.device.counters.framesOut, 1);
  t.is(rig.bus.read32(R.GPTC), 1);
});

test('the transmit ring wraps; a long backlog is sent over several turns (TX_BUDGET per turn)', async (t) => {
  const rig = new Rig({ txCount: 8 });
  await rig.up();
  const sent: Uint8Array[] = [];
  for (let round = 0; round < 6; round++) {
    const batch = Array.from({ length: 5 }, (_, i) => frame(PEER_MAC, 64 + i, round * 5 + i));
    t.true(rig.driver.transmit(batch));
    sent.push(...batch);
    rig.turn();
  }
  t.deepEqual(rig.sent, sent);
  t.is(rig.bus.read32(R.TDH), 30 % 8);
  t.is(DESC_BYTES, 16);
});
