// The device model's power-up, reset, EEPROM, link and receive path, driven turn by
// turn on the test's thread.
import test from 'ava';
import {
  EEPROM_WORDS,
  eepromChecksumValid,
  regs as R,
  RXD_ERR_RXE,
  RXD_STAT_DD,
  RXD_STAT_EOP,
  RxDescriptor,
} from '../../hw/e1000/index.ts';
import { type Mac, mac } from '../../lib/net/addr.ts';
import { BROADCAST, DMA_BASE, frame, NIC_MAC, OTHER_MAC, Rig } from './rig.ts';

const desc = new RxDescriptor();

test('power-up: STATUS full duplex at 1000 Mb/s with the link down, RAL0/RAH0 hold the EEPROM MAC with AV', (t) => {
  const rig = new Rig();
  const b = rig.bus;
  t.is(b.read32(R.STATUS) & R.STATUS_LU, 0);
  t.is(b.read32(R.STATUS) & (R.STATUS_FD | R.STATUS_SPEED_1000), R.STATUS_FD | R.STATUS_SPEED_1000);
  t.is(b.read32(R.RAL0), 0x0000_0002); // 02:00:00:00 low byte first
  t.is(b.read32(R.RAH0), (0x0100 | R.RAH_AV) >>> 0); // 00:01, AV
  t.is(b.read32(R.EECD) & R.EECD_EE_PRES, R.EECD_EE_PRES);
  t.is(rig.device.counters.resets, 0);
});

test('EERD: START and ADDR in, DONE and DATA out; the MAC is in words 0-2 and the image sums to 0xBABA', async (t) => {
  const m = mac('52:54:00:12:34:56');
  const rig = new Rig({}, m);
  const d = rig.driver;
  rig.bus.write32(R.EERD, R.EERD_START | (1 << R.EERD_ADDR_SHIFT));
  t.is(rig.bus.read32(R.EERD) & R.EERD_DONE, 0, 'not done before the device has run');
  rig.turn();
  const v = rig.bus.read32(R.EERD);
  t.is(v & R.EERD_DONE, R.EERD_DONE);
  t.is(v & R.EERD_START, 0, 'START is cleared when done');
  t.is((v >>> R.EERD_ADDR_SHIFT) & 0xff, 1);
  t.is(v >>> R.EERD_DATA_SHIFT, 0x1200, 'word 1 = octet 2 | octet 3 << 8');
  t.is(await d.readMac(), m);
  const image: number[] = [];
  for (let i = 0; i < EEPROM_WORDS; i++) image.push(await d.readEeprom(i));
  t.true(eepromChecksumValid(image));
  t.is(await d.readEeprom(200), 0xffff, 'past the EEPROM: erased cells');
});

test('CTRL.RST: registers back to defaults, RAL0/RAH0 reloaded, rings off, RST self-clears', async (t) => {
  const rig = new Rig();
  const b = rig.bus;
  await rig.up(R.INT_RXT0);
  b.write32(R.RAL0, 0x1234_5678);
  b.write32(R.MTA + 8, 0xffff);
  b.write32(R.ITR, 500);
  b.write32(R.ICS, R.INT_TXDW);
  rig.turn();
  t.not(b.read32(R.RCTL), 0);
  b.write32(R.CTRL, R.CTRL_RST | R.CTRL_SLU);
  t.not(b.read32(R.CTRL) & R.CTRL_RST, 0, 'RST reads set until the device has reset');
  rig.turn();
  t.is(b.read32(R.CTRL) & R.CTRL_RST, 0);
  t.is(b.read32(R.CTRL) & R.CTRL_SLU, 0);
  t.is(b.read32(R.STATUS) & R.STATUS_LU, 0, 'link down after reset');
  for (const reg of [R.RCTL, R.TCTL, R.IMS, R.ITR, R.RDLEN, R.RDT, R.TDLEN, R.TDT, R.MTA + 8]) {
    t.is(b.read32(reg), 0, `0x${reg.toString(16)} reset`);
  }
  t.is(b.read32(R.ICR), 0);
  t.is(b.read32(R.RAL0), 2);
  t.is(rig.device.counters.resets, 2); // bring-up's and this one
  // Rings are off: a frame is not received.
  t.false(rig.deliver(frame(NIC_MAC, 64)));
  t.is(rig.device.counters.rxOff, 1);
});

test('CTRL.SLU raises STATUS.LU and LSC; clearing it drops the link (LSC again)', async (t) => {
  const rig = new Rig();
  const b = rig.bus;
  b.write32(R.IMS, R.INT_LSC);
  b.write32(R.CTRL, R.CTRL_SLU);
  t.is(rig.irqs, 0);
  rig.turn();
  t.is(b.read32(R.STATUS) & R.STATUS_LU, R.STATUS_LU);
  t.is(rig.irqs, 1, 'LSC unmasked: the line is asserted');
  t.is(b.read32(R.ICR), R.INT_LSC);
  b.write32(R.CTRL, 0);
  rig.turn();
  t.is(b.read32(R.STATUS) & R.STATUS_LU, 0);
  t.is(b.read32(R.ICR), R.INT_LSC);
  t.is(rig.device.counters.linkChanges, 2);
});

test('receive: DD|EOP and the length written back, RDH advances, bytes land in the buffer', async (t) => {
  const rig = new Rig();
  await rig.up();
  const d = rig.driver;
  const words = rig.bus.dma.words;
  const f = frame(NIC_MAC, 100, 1);
  t.true(rig.deliver(f));
  desc.read(words, d.rxAt(0));
  t.is(desc.status, RXD_STAT_DD | RXD_STAT_EOP);
  t.is(desc.errors, 0);
  t.is(desc.length, 100);
  t.is(rig.bus.read32(R.RDH), 1);
  t.deepEqual(rig.bus.dma.bytes.slice(d.rxBuffers, d.rxBuffers + 100), f);
  t.is(rig.bus.read32(R.ICR) & R.INT_RXT0, R.INT_RXT0);
  t.deepEqual(d.receive(), [f]);
  t.is(rig.bus.read32(R.RDT), 0, 'the driver gave the descriptor back');
  const c = rig.device.counters;
  t.is(c.framesIn, 1);
  t.is(c.bytesIn, 100);
});

test('ring rule: the device owns head..tail-1; head = tail is an empty ring; a full ring misses (MPC, RNBC, RXO)', async (t) => {
  const rig = new Rig({ rxCount: 8 });
  await rig.up();
  const b = rig.bus;
  // RDT = 7: descriptors 0..6 are the device's, 7 frames fit.
  for (let i = 0; i < 7; i++) t.true(rig.deliver(frame(NIC_MAC, 60 + i, i)), `frame ${i}`);
  t.is(b.read32(R.RDH), 7);
  t.false(rig.deliver(frame(NIC_MAC, 70)), 'head = tail: no descriptor left');
  t.false(rig.deliver(frame(NIC_MAC, 70)));
  t.is(rig.device.counters.missed, 2);
  t.is(b.read32(R.MPC), 2);
  t.is(b.read32(R.RNBC), 2);
  t.is(b.read32(R.MPC), 0, 'statistics clear on read');
  t.is(b.read32(R.ICR) & R.INT_RXO, R.INT_RXO);
  // Descriptor 7 was never written: it was not the device's.
  desc.read(b.dma.words, rig.driver.rxAt(7));
  t.is(desc.status, 0);
  t.is(rig.driver.receive().length, 7);
});

test('wrap-around: frames land in descriptors 6, 7, 0, 1 as the tail moves past the end', async (t) => {
  const rig = new Rig({ rxCount: 8 });
  await rig.up();
  const d = rig.driver;
  const got: Uint8Array[] = [];
  const sent: Uint8Array[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 5; i++) {
      const f = frame(NIC_MAC, 64 + round * 10 + i, round * 5 + i);
      sent.push(f);
      t.true(rig.deliver(f));
    }
    got.push(...d.receive());
  }
  t.deepEqual(got, sent);
  t.is(rig.bus.read32(R.RDH), 25 % 8);
  t.is(rig.device.counters.missed, 0);
});

test('a frame larger than one buffer spans descriptors, EOP on the last; lengths are the bytes in each', async (t) => {
  const rig = new Rig({ rxCount: 16, bufferSize: 256 });
  await rig.up();
  const f = frame(NIC_MAC, 1000, 3);
  t.true(rig.deliver(f));
  const words = rig.bus.dma.words;
  const lengths: number[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    desc.read(words, rig.driver.rxAt(i));
    lengths.push(desc.length);
    statuses.push(desc.status);
  }
  t.deepEqual(lengths, [256, 256, 256, 232]);
  t.deepEqual(statuses, [RXD_STAT_DD, RXD_STAT_DD, RXD_STAT_DD, RXD_STAT_DD | RXD_STAT_EOP]);
  t.is(rig.bus.read32(R.RDH), 4);
  t.deepEqual(rig.driver.receive(), [f]);
  // A 1518-byte frame needs 6 descriptors; with 5 free it is missed as a whole.
  rig.bus.write32(R.RDT, 9); // descriptors 4..8 only
  t.false(rig.deliver(frame(NIC_MAC, 1518)));
  t.is(rig.device.counters.missed, 1);
  t.is(rig.bus.read32(R.RDH), 4, 'nothing consumed');
});

test('BSIZE and BSEX: every encoded buffer size', (t) => {
  t.is(R.rxBufferSize(R.RCTL_BSIZE_2048), 2048);
  t.is(R.rxBufferSize(R.RCTL_BSIZE_1024), 1024);
  t.is(R.rxBufferSize(R.RCTL_BSIZE_512), 512);
  t.is(R.rxBufferSize(R.RCTL_BSIZE_256), 256);
  t.is(R.rxBufferSize(R.RCTL_BSEX | R.RCTL_BSIZE_1024), 16384);
  t.is(R.rxBufferSize(R.RCTL_BSEX | R.RCTL_BSIZE_512), 8192);
  t.is(R.rxBufferSize(R.RCTL_BSEX | R.RCTL_BSIZE_256), 4096);
  t.is(R.rxBufferSize(R.RCTL_BSEX), 0, 'reserved');
});

test('statistics: GPRC, GORC (with FCS), BPRC, MPRC, TPR, TOR and the size bins count received frames', async (t) => {
  const rig = new Rig({ rxCount: 32 });
  await rig.up();
  const b = rig.bus;
  b.write32(R.RCTL, b.read32(R.RCTL) | R.RCTL_MPE);
  rig.turn();
  rig.deliver(frame(NIC_MAC, 60)); // 64 with FCS
  rig.deliver(frame(BROADCAST, 100));
  rig.deliver(frame(mac('01:00:5e:00:00:01'), 1518));
  rig.deliver(frame(OTHER_MAC, 200)); // filtered: counted in TPR/TOR only
  rig.device.flushStats();
  t.is(b.read32(R.GPRC), 3);
  t.is(b.read32(R.GORCL), 64 + 104 + 1522);
  t.is(b.read32(R.GORCH), 0);
  t.is(b.read32(R.GORCL), 0, 'the pair cleared when its high half was read');
  t.is(b.read32(R.BPRC), 1);
  t.is(b.read32(R.MPRC), 1);
  t.is(b.read32(R.TPR), 4);
  t.is(b.read32(R.TORL), 64 + 104 + 1522 + 204);
  t.is(b.read32(R.PRC64), 1);
  t.is(b.read32(R.PRC127), 1);
  t.is(b.read32(R.PRC1522), 1);
  t.is(rig.device.counters.filtered, 1);
});

/** The 12-bit MTA hash for multicast offset mode `mo`, computed independently of the device. */
function mtaHash(m: Mac, mo: number): number {
  const bits = BigInt(m); // octet 0 most significant
  const o4 = Number((bits >> 8n) & 0xffn);
  const o5 = Number(bits & 0xffn);
  const v = (o5 << 8) | o4; // octets 4 and 5 as the 8254x sees bits 47:32
  const shift = [4, 3, 2, 0][mo]!;
  return (v >>> shift) & 0xfff;
}

function setMta(rig: Rig, hash: number): void {
  const reg = R.MTA + 4 * (hash >>> 5);
  rig.bus.write32(reg, rig.bus.read32(reg) | (1 << (hash & 31)));
}

test('address filter: own MAC, other unicast dropped and counted, broadcast only with BAM', async (t) => {
  const rig = new Rig({ rxCount: 32 });
  await rig.up();
  const b = rig.bus;
  const c = rig.device.counters;
  b.write32(R.RCTL, R.RCTL_EN | R.RCTL_SECRC); // no BAM
  rig.turn();
  t.true(rig.deliver(frame(NIC_MAC, 64)));
  t.false(rig.deliver(frame(OTHER_MAC, 64)));
  t.false(rig.deliver(frame(BROADCAST, 64)));
  t.is(c.filtered, 2);
  b.write32(R.RCTL, R.RCTL_EN | R.RCTL_BAM);
  rig.turn();
  t.true(rig.deliver(frame(BROADCAST, 64)));
  // A second exact address in RAL1/RAH1; without AV it does not count.
  b.write32(R.ral(1), 0x0000_0002);
  b.write32(R.rah(1), 0x0500);
  rig.turn();
  t.false(rig.deliver(frame(OTHER_MAC, 64)));
  b.write32(R.rah(1), 0x0500 | R.RAH_AV);
  rig.turn();
  t.true(rig.deliver(frame(OTHER_MAC, 64)));
  // RAL0 without AV: even our own MAC is refused.
  b.write32(R.RAH0, 0x0100);
  rig.turn();
  t.false(rig.deliver(frame(NIC_MAC, 64)));
  t.is(c.filtered, 4);
  t.is(c.framesIn, 3);
});

test('address filter: unicast promiscuous (UPE) and multicast promiscuous (MPE)', async (t) => {
  const rig = new Rig({ rxCount: 32 });
  await rig.up();
  const b = rig.bus;
  const group = mac('01:00:5e:7f:00:01');
  t.false(rig.deliver(frame(OTHER_MAC, 64)));
  t.false(rig.deliver(frame(group, 64)));
  b.write32(R.RCTL, b.read32(R.RCTL) | R.RCTL_UPE);
  rig.turn();
  t.true(rig.deliver(frame(OTHER_MAC, 64)));
  t.false(rig.deliver(frame(group, 64)), 'UPE is unicast only');
  b.write32(R.RCTL, (b.read32(R.RCTL) & ~R.RCTL_UPE) | R.RCTL_MPE);
  rig.turn();
  t.true(rig.deliver(frame(group, 64)));
  t.false(rig.deliver(frame(OTHER_MAC, 64)), 'MPE is multicast only');
});

for (const mo of [0, 1, 2, 3]) {
  test(`address filter: the multicast table hashed with RCTL.MO=${mo}`, async (t) => {
    const rig = new Rig({ rxCount: 64 });
    await rig.up();
    const b = rig.bus;
    b.write32(R.RCTL, R.RCTL_EN | R.RCTL_BAM | (mo << R.RCTL_MO_SHIFT));
    const wanted = [mac('01:00:5e:00:00:fb'), mac('33:33:00:00:00:01'), mac('01:80:c2:00:00:0e')];
    for (const m of wanted) setMta(rig, mtaHash(m, mo));
    rig.turn();
    for (const m of wanted) t.true(rig.deliver(frame(m, 64)), `${m.toString(16)} accepted`);
    // Group addresses whose hash is not set are refused.
    let refused = 0;
    for (let i = 0; i < 200; i++) {
      const m = (0x01005e000000 + i * 0x1357) as Mac;
      const h = mtaHash(m, mo);
      const set = (b.read32(R.MTA + 4 * (h >>> 5)) >>> (h & 31)) & 1;
      t.is(rig.deliver(frame(m, 64)), set === 1, `0x${m.toString(16)} hash ${h}`);
      if (!set) refused++;
      rig.driver.receive();
    }
    t.true(refused > 150);
  });
}

test('receive disabled or link down: frames are dropped and counted as rxOff, nothing is written', async (t) => {
  const rig = new Rig();
  await rig.up();
  const b = rig.bus;
  b.write32(R.RCTL, b.read32(R.RCTL) & ~R.RCTL_EN);
  rig.turn();
  t.false(rig.deliver(frame(NIC_MAC, 64)));
  b.write32(R.RCTL, b.read32(R.RCTL) | R.RCTL_EN);
  b.write32(R.CTRL, 0);
  rig.turn();
  t.false(rig.deliver(frame(NIC_MAC, 64)));
  t.is(rig.device.counters.rxOff, 2);
  t.is(b.read32(R.RDH), 0);
  t.is(b.read32(R.GPRC), 0);
});

test('RXDMT0 is raised when the free descriptors fall to the RDMTS threshold (1/2 of the ring)', async (t) => {
  const rig = new Rig({ rxCount: 16 });
  await rig.up();
  const b = rig.bus;
  // 15 free; threshold 8. Frames 1..6 leave 14..9 free; the 7th leaves 8.
  for (let i = 0; i < 6; i++) rig.deliver(frame(NIC_MAC, 64));
  t.is(b.read32(R.ICR) & R.INT_RXDMT0, 0);
  rig.deliver(frame(NIC_MAC, 64));
  t.is(b.read32(R.ICR) & R.INT_RXDMT0, R.INT_RXDMT0);
  rig.deliver(frame(NIC_MAC, 64));
  t.is(b.read32(R.ICR) & R.INT_RXDMT0, 0, 'raised when the threshold is crossed, not below it');
});

test('a receive buffer outside physical memory: no byte written, descriptors written back with RXE and consumed', async (t) => {
  const rig = new Rig({ rxCount: 8, bufferSize: 256 });
  await rig.up();
  const d = rig.driver;
  const words = rig.bus.dma.words;
  // Descriptor 1's buffer points past the end of DMA memory (the guard gap).
  words[d.rxAt(1)] = (DMA_BASE + rig.bus.dma.size) >>> 0;
  const before = rig.bus.dma.bytes.slice();
  t.false(rig.deliver(frame(NIC_MAC, 600)));
  const after = rig.bus.dma.bytes;
  for (let i = 0; i < 3; i++) {
    desc.read(words, d.rxAt(i));
    t.is(desc.status, RXD_STAT_DD | (i === 2 ? RXD_STAT_EOP : 0));
    t.is(desc.errors, RXD_ERR_RXE);
    t.is(desc.length, 0);
  }
  t.deepEqual(
    after.slice(d.rxBuffers, d.rxBuffers + 8 * 256),
    before.slice(d.rxBuffers, d.rxBuffers + 8 * 256),
    'no buffer touched',
  );
  t.is(rig.bus.read32(R.RDH), 3);
  const c = rig.device.counters;
  t.is(c.rxDmaDropped, 1);
  t.is(c.dmaErrors, 1);
  t.is(rig.logs.filter((l) => l.kind === 'rx-buffer').length, 1);
  // The ring goes on: the next frame lands in descriptor 3.
  t.true(rig.deliver(frame(NIC_MAC, 64)));
  t.is(rig.bus.read32(R.RDH), 4);
  words[d.rxAt(5)] = 0x1000; // a buffer at 4 KiB (high word 0): no memory there
  words[d.rxAt(5) + 1] = 0;
  t.false(rig.deliver(frame(NIC_MAC, 600)));
  t.is(c.dmaErrors, 2);
  t.is(rig.logs.filter((l) => l.kind === 'rx-buffer').length, 1, 'logged once per kind');
});

test('a frame spanning buffers is scattered whole from a view at any byte offset of shared memory', async (t) => {
  const rig = new Rig({ rxCount: 16, bufferSize: 256 });
  await rig.up();
  const f = frame(NIC_MAC, 1111, 5);
  for (const offset of [0, 1, 2, 3, 6]) {
    const shared = new Uint8Array(new SharedArrayBuffer(2048));
    shared.set(f, offset);
    t.true(rig.deliver(shared.subarray(offset, offset + f.length)), `offset ${offset}`);
    t.deepEqual(rig.driver.receive(), [f]);
  }
});

test('ring registers rewritten mid-turn: the unpublished head is kept, unless the driver wrote RDH itself', async (t) => {
  const rig = new Rig({ rxCount: 8 });
  await rig.up();
  const dev = rig.device;
  const b = rig.bus;
  t.true(dev.receive(frame(NIC_MAC, 64, 1))); // descriptor 0; RDH not yet published
  t.is(b.read32(R.RDH), 0);
  b.write32(R.RDLEN, 8 * 16); // the same ring, written again
  t.true(dev.receive(frame(NIC_MAC, 64, 2))); // latched mid-turn: must land in descriptor 1
  dev.endTurn();
  t.is(b.read32(R.RDH), 2);
  t.deepEqual(rig.driver.receive(), [frame(NIC_MAC, 64, 1), frame(NIC_MAC, 64, 2)]);
  // The driver moves the head itself (to 5) while the device has an unpublished head.
  t.true(dev.receive(frame(NIC_MAC, 64, 3)));
  b.write32(R.RDH, 5);
  b.write32(R.RDT, 1);
  t.true(dev.receive(frame(NIC_MAC, 64, 4)));
  dev.endTurn();
  t.is(b.read32(R.RDH), 6, "the driver's head was taken");
  desc.read(b.dma.words, rig.driver.rxAt(5));
  t.is(desc.status, RXD_STAT_DD | RXD_STAT_EOP);
});

test('MDIC: PHY registers read and written through the MDI bus; status follows the link; a missing PHY is an error', async (t) => {
  const rig = new Rig();
  const b = rig.bus;
  const mdic = (op: number, reg: number, data = 0, phy = R.PHY_ADDRESS, extra = 0) => {
    b.write32(R.MDIC, op | (phy << R.MDIC_PHY_SHIFT) | (reg << R.MDIC_REG_SHIFT) | data | extra);
    t.is(b.read32(R.MDIC) & R.MDIC_READY, 0, 'not ready before the device has run');
    rig.turn();
    const v = b.read32(R.MDIC);
    t.not(v & R.MDIC_READY, 0);
    return v;
  };
  t.is(mdic(R.MDIC_OP_READ, R.PHY_ID1) & 0xffff, 0x0141);
  t.is(mdic(R.MDIC_OP_READ, R.PHY_ID2) & 0xffff, 0x0c20);
  t.is(mdic(R.MDIC_OP_READ, R.PHY_STATUS) & R.PHY_STATUS_LINK, 0);
  b.write32(R.CTRL, R.CTRL_SLU);
  rig.turn();
  t.is(
    mdic(R.MDIC_OP_READ, R.PHY_STATUS) & (R.PHY_STATUS_LINK | R.PHY_STATUS_AUTONEG_DONE),
    R.PHY_STATUS_LINK | R.PHY_STATUS_AUTONEG_DONE,
  );
  mdic(R.MDIC_OP_WRITE, R.PHY_AUTONEG_ADV, 0x0de1);
  t.is(mdic(R.MDIC_OP_READ, R.PHY_AUTONEG_ADV) & 0xffff, 0x0de1);
  mdic(R.MDIC_OP_WRITE, R.PHY_CTRL, R.PHY_CTRL_RESET | 0x1140);
  t.is(mdic(R.MDIC_OP_READ, R.PHY_CTRL) & R.PHY_CTRL_RESET, 0, 'PHY reset self-clears');
  mdic(R.MDIC_OP_WRITE, R.PHY_ID1, 0x1234);
  t.is(mdic(R.MDIC_OP_READ, R.PHY_ID1) & 0xffff, 0x0141, 'ID registers are read-only');
  t.not(mdic(R.MDIC_OP_READ, R.PHY_STATUS, 0, 7) & R.MDIC_ERROR, 0, 'no PHY at address 7');
  b.write32(R.IMS, R.INT_MDAC);
  mdic(R.MDIC_OP_READ, R.PHY_STATUS, 0, R.PHY_ADDRESS, R.MDIC_INT_EN);
  t.is(b.read32(R.ICR) & R.INT_MDAC, R.INT_MDAC);
  t.true(rig.irqs > 0);
});
