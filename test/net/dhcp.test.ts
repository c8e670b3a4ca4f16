// lib/net/dhcp: the view reads back what the builder writes; malformed bytes give typed
// invalids, never exceptions; Wireshark dissects what we build.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import {
  BROADCAST_MAC,
  buildDhcp,
  classfulMask,
  DHCP_CLIENT_PORT,
  DHCP_OPTIONS_OFFSET,
  DHCP_SERVER_PORT,
  type DhcpFields,
  DhcpMessage,
  DhcpMessageType,
  DhcpOp,
  DhcpOption,
  dhcpLength,
  dhcpTypeName,
  ethernetClientId,
  IPV4_ANY,
  IPV4_BROADCAST,
  type Ipv4Addr,
  ipv4,
  isContiguousMask,
  isHostIpv4,
  isMulticastMac,
  type Mac,
  mac,
  networkOf,
  PcapWriter,
  prefixLength,
  subnetBroadcast,
  udpFrame,
  writeDhcp,
} from '../../lib/net/index.ts';
import { have, missing } from '../helpers/tools.ts';

const CLIENT = mac('02:00:00:00:00:42');
const SERVER_MAC = mac('02:00:00:00:00:01');
const SERVER = ipv4('10.0.0.1');

const arbIp = fc.integer({ min: 0, max: 0xffff_ffff }).map((n) => n as Ipv4Addr);
const arbMac = fc.integer({ min: 0, max: 0xffff_ffff_ffff }).map((n) => n as Mac);
const arbU32 = fc.integer({ min: 0, max: 0xffff_ffff });
const printable = fc
  .array(fc.integer({ min: 0x20, max: 0x7e }), { minLength: 1, maxLength: 40 })
  .map((cs) => String.fromCharCode(...cs));

const arbFields: fc.Arbitrary<DhcpFields> = fc.record(
  {
    op: fc.constantFrom(DhcpOp.BOOTREQUEST, DhcpOp.BOOTREPLY),
    hops: fc.integer({ min: 0, max: 255 }),
    xid: arbU32,
    secs: fc.integer({ min: 0, max: 0xffff }),
    broadcast: fc.boolean(),
    ciaddr: arbIp,
    yiaddr: arbIp,
    siaddr: arbIp,
    giaddr: arbIp,
    chaddr: arbMac,
    sname: printable,
    file: printable,
    messageType: fc.integer({ min: 1, max: 8 }),
    requestedIp: arbIp,
    leaseTime: arbU32,
    serverId: arbIp,
    subnetMask: arbIp,
    routers: fc.array(arbIp, { minLength: 1, maxLength: 4 }),
    dns: fc.array(arbIp, { minLength: 1, maxLength: 4 }),
    renewalTime: arbU32,
    rebindingTime: arbU32,
    parameterRequestList: fc.array(fc.integer({ min: 1, max: 254 }), { minLength: 1, maxLength: 12 }),
    maxMessageSize: fc.integer({ min: 576, max: 0xffff }),
    clientId: fc.uint8Array({ minLength: 2, maxLength: 20 }),
    hostName: printable,
    message: printable,
    options: fc.array(
      fc.record({
        code: fc.integer({ min: 128, max: 254 }), // site-specific codes: no length rules of their own
        data: fc.uint8Array({ maxLength: 30 }),
      }),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: ['op', 'xid', 'chaddr'] },
);

/** What the view says, in the builder's terms (defaults filled in). */
function readBack(m: DhcpMessage, f: DhcpFields): Record<string, unknown> {
  const opt = <T>(v: T | undefined, want: unknown) => (want === undefined ? undefined : v);
  return {
    op: m.op,
    htype: m.htype,
    hlen: m.hlen,
    hops: m.hops,
    xid: m.xid,
    secs: m.secs,
    broadcast: m.broadcast,
    ciaddr: m.ciaddr,
    yiaddr: m.yiaddr,
    siaddr: m.siaddr,
    giaddr: m.giaddr,
    chaddr: m.chaddr,
    sname: m.sname,
    file: m.file,
    messageType: m.messageType,
    requestedIp: m.requestedIp,
    leaseTime: m.leaseTime,
    serverId: m.serverId,
    subnetMask: m.subnetMask,
    routers: opt(m.routers(), f.routers),
    dns: opt(m.dnsServers(), f.dns),
    renewalTime: m.renewalTime,
    rebindingTime: m.rebindingTime,
    parameterRequestList: m.parameterRequestList && Array.from(m.parameterRequestList),
    maxMessageSize: m.maxMessageSize,
    clientId: m.clientId && Array.from(m.clientId),
    hostName: m.hostName,
    message: m.message,
    options: opt(
      m
        .options()
        .filter((o) => o.code >= 128)
        .map((o) => ({ code: o.code, data: Array.from(o.data) })),
      f.options,
    ),
  };
}

function expected(f: DhcpFields): Record<string, unknown> & { firstOf?: number[] } {
  // Only the first of several options with one code is read.
  const seen = new Set<number>();
  return {
    op: f.op,
    htype: 1,
    hlen: 6,
    hops: f.hops ?? 0,
    xid: f.xid,
    secs: f.secs ?? 0,
    broadcast: f.broadcast ?? false,
    ciaddr: f.ciaddr ?? 0,
    yiaddr: f.yiaddr ?? 0,
    siaddr: f.siaddr ?? 0,
    giaddr: f.giaddr ?? 0,
    chaddr: f.chaddr,
    sname: f.sname ?? '',
    file: f.file ?? '',
    messageType: f.messageType,
    requestedIp: f.requestedIp,
    leaseTime: f.leaseTime,
    serverId: f.serverId,
    subnetMask: f.subnetMask,
    routers: f.routers,
    dns: f.dns,
    renewalTime: f.renewalTime,
    rebindingTime: f.rebindingTime,
    parameterRequestList: f.parameterRequestList,
    maxMessageSize: f.maxMessageSize,
    clientId: f.clientId && Array.from(f.clientId),
    hostName: f.hostName,
    message: f.message,
    options: f.options?.map((o) => ({ code: o.code, data: Array.from(o.data) })),
    firstOf: f.options?.filter((o) => !seen.has(o.code) && seen.add(o.code)).map((o) => o.code),
  };
}

test('round trip: every field and option the builder writes, the view reads back', (t) => {
  const m = new DhcpMessage();
  fc.assert(
    fc.property(arbFields, fc.integer({ min: 0, max: 7 }), (f, at) => {
      // Written in place at an offset, into bytes that were not zero: the writer owns every byte it covers.
      const n = dhcpLength(f);
      const b = new Uint8Array(at + n + 5).fill(0xa5);
      t.is(writeDhcp(b, at, f), n);
      t.deepEqual(b.subarray(at, at + n), buildDhcp(f));
      const { firstOf, ...want } = expected(f);
      if (m.attach(b, at, at + n) !== undefined) return false;
      t.deepEqual(readBack(m, f), want);
      for (const code of firstOf ?? []) {
        const first = f.options!.find((o) => o.code === code)!;
        t.deepEqual(Array.from(m.option(code)!), Array.from(first.data));
      }
      return n >= 300 && m.magicCookie === 0x63825363;
    }),
    { seed: 1, numRuns: 400 },
  );
});

test('random bytes, truncations and mutations never throw; getters are safe on whatever attach() accepts', (t) => {
  const m = new DhcpMessage();
  const touch = () => {
    void [m.op, m.htype, m.hlen, m.hops, m.xid, m.secs, m.flags, m.broadcast, m.ciaddr, m.yiaddr];
    void [m.siaddr, m.giaddr, m.chaddr, m.chaddrBytes, m.sname, m.file, m.messageType, m.requestedIp];
    void [m.leaseTime, m.serverId, m.subnetMask, m.renewalTime, m.rebindingTime, m.maxMessageSize];
    void [m.routers(), m.router, m.dnsServers(), m.parameterRequestList, m.clientId, m.hostName, m.message];
    void m.options();
  };
  let accepted = 0;
  fc.assert(
    fc.property(
      arbFields,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.nat(),
      fc.uint8Array({ maxLength: 600 }),
      (f, flips, cut, noise) => {
        const b = buildDhcp(f);
        for (const [i, v] of flips) b[DHCP_OPTIONS_OFFSET + (i % (b.length - DHCP_OPTIONS_OFFSET))] = v;
        for (const bytes of [b, b.subarray(0, cut % (b.length + 1)), noise]) {
          const r = m.attach(bytes);
          if (r === undefined) {
            accepted++;
            touch();
          }
        }
      },
    ),
    { seed: 2, numRuns: 1500 },
  );
  t.true(accepted > 100, `only ${accepted} mutated messages were valid: the property tests little`);
});

/** A DISCOVER whose option bytes after the cookie are `opts`. */
function withOptions(opts: number[]): Uint8Array {
  const b = buildDhcp({ op: 1, xid: 7, chaddr: CLIENT });
  b.fill(0, DHCP_OPTIONS_OFFSET);
  b.set(opts, DHCP_OPTIONS_OFFSET);
  return b;
}

test('malformed messages: each gives its own reason', (t) => {
  const m = new DhcpMessage();
  const good = buildDhcp({ op: 1, xid: 1, chaddr: CLIENT, messageType: DhcpMessageType.DISCOVER });
  t.is(m.attach(good), undefined);
  t.is(m.attach(good.subarray(0, 239)), 'truncated');
  t.is(m.attach(good, 0, good.length + 1), 'truncated');
  const cookie = good.slice();
  cookie[239] = 0x62;
  t.is(m.attach(cookie), 'bad-magic');
  const hlen = good.slice();
  hlen[2] = 17;
  t.is(m.attach(hlen), 'bad-hardware-length');
  t.is(m.attach(withOptions([53, 1, 1, 255])), undefined);
  t.is(m.attach(withOptions([53, 1, 1])), 'missing-end', 'zero padding is pads, and pads are not an end');
  t.is(m.attach(withOptions([53, 1, 1]).subarray(0, DHCP_OPTIONS_OFFSET + 3)), 'missing-end');
  t.is(m.attach(withOptions([53, 1, 1, 0, 0]).subarray(0, DHCP_OPTIONS_OFFSET + 5)), 'missing-end');
  t.is(m.attach(withOptions([51, 3, 0, 0, 1, 255])), 'bad-option-length', 'a 3-byte lease time');
  t.is(m.attach(withOptions([53, 2, 1, 1, 255])), 'bad-option-length', 'a 2-byte message type');
  t.is(
    m.attach(withOptions([3, 6, 1, 2, 3, 4, 5, 6, 255])),
    'bad-option-length',
    'a router list of 1.5 addresses',
  );
  t.is(m.attach(withOptions([61, 1, 1, 255])), 'bad-option-length', 'a client id with no identifier');
  t.is(m.attach(withOptions([12, 0, 255])), 'bad-option-length', 'an empty host name');
  const past = withOptions([53, 1, 1, 200, 30, 1, 2]).subarray(0, DHCP_OPTIONS_OFFSET + 7);
  t.is(m.attach(past), 'bad-option', 'an option running past the message');
  t.is(m.attach(withOptions([53, 1, 1, 12]).subarray(0, DHCP_OPTIONS_OFFSET + 4)), 'bad-option');
  t.is(m.attach(withOptions([52, 1, 4, 255])), 'bad-option', 'overload must be 1, 2 or 3');
});

test('options spilled into file and sname (overload) are found; those fields then read as empty', (t) => {
  const b = withOptions([52, 1, 3, 53, 1, 5, 255]);
  b.set([51, 4, 0, 0, 0x0e, 0x10, 255], 108); // file: lease time 3600
  b.set([54, 4, 10, 0, 0, 1, 3, 4, 10, 0, 0, 254], 44); // sname: server id, router (no end: the field ends it)
  const m = new DhcpMessage();
  t.is(m.attach(b), undefined);
  t.is(m.messageType, DhcpMessageType.ACK);
  t.is(m.leaseTime, 3600);
  t.is(m.serverId, SERVER);
  t.deepEqual(m.routers(), [ipv4('10.0.0.254')]);
  t.is(m.file, '');
  t.is(m.sname, '');
  t.deepEqual(
    m.options().map((o) => o.code),
    [52, 53, 51, 54, 3],
  );
  b[108 + 1] = 9; // a 9-byte lease time
  t.is(m.attach(b), 'bad-option-length');
  b[108] = 200;
  b[108 + 1] = 200; // an option running past the file field
  t.is(m.attach(b), 'bad-option');
});

test('first of a repeated option counts; absent options read as undefined or empty', (t) => {
  const m = new DhcpMessage();
  t.is(m.attach(withOptions([53, 1, 2, 53, 1, 6, 255])), undefined);
  t.is(m.messageType, DhcpMessageType.OFFER);
  t.is(m.attach(withOptions([255])), undefined);
  t.is(m.messageType, undefined);
  t.is(m.leaseTime, undefined);
  t.deepEqual(m.routers(), []);
  t.is(m.router, undefined);
  t.is(m.hostName, undefined);
  t.false(m.hasOption(DhcpOption.SERVER_ID));
  t.is(dhcpTypeName(m.messageType), 'no type');
  t.is(dhcpTypeName(DhcpMessageType.NAK), 'NAK');
  t.is(dhcpTypeName(42), 'type 42');
});

test('the builder refuses what it cannot encode, naming the field', (t) => {
  const base = { op: 1, xid: 1, chaddr: CLIENT } as const;
  t.throws(() => buildDhcp({ ...base, hostName: 'x'.repeat(256) }), {
    message: /host name is 256 characters/,
  });
  t.throws(() => buildDhcp({ ...base, hostName: 'héllo' }), { message: /host name 'héllo' .* at 1/ });
  t.throws(() => buildDhcp({ ...base, hostName: '' }), { message: /host name is empty/ });
  t.throws(() => buildDhcp({ ...base, sname: 's'.repeat(64) }), {
    message: /sname is 64 characters; at most 63/,
  });
  t.throws(() => buildDhcp({ ...base, chaddr: new Uint8Array(17) }), { message: /chaddr of 17 bytes/ });
  t.throws(() => buildDhcp({ ...base, leaseTime: -1 }), { message: /lease time -1 is not a 32-bit/ });
  t.throws(() => buildDhcp({ ...base, xid: 2 ** 32 }), { message: /xid 4294967296/ });
  t.throws(() => buildDhcp({ ...base, messageType: 256 }), { message: /message type 256 is not a byte/ });
  t.throws(() => buildDhcp({ ...base, clientId: new Uint8Array(1) }), { message: /client identifier needs/ });
  t.throws(() => buildDhcp({ ...base, options: [{ code: 0, data: new Uint8Array(1) }] }), {
    message: /option code 0 is not 1..254/,
  });
  t.throws(() => buildDhcp({ ...base, options: [{ code: 200, data: new Uint8Array(256) }] }), {
    message: /option 200 has 256 bytes/,
  });
  t.throws(() => buildDhcp({ ...base, maxMessageSize: 100 }), { message: /maximum message size 100/ });
  t.throws(() => writeDhcp(new Uint8Array(310), 20, base), { message: /300 bytes does not fit at 20/ });
});

const skipWithout = (tool: string) => (have(tool) ? test : test.skip);

skipWithout('tshark')(
  `Wireshark dissects a DHCP exchange we build, field by field (${have('tshark') ? 'tshark' : missing('tshark')})`,
  (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'fishnet-dhcp-'));
    try {
      const xid = 0x1234abcd;
      const msgs: { bytes: Uint8Array; fromServer: boolean }[] = [
        {
          fromServer: false,
          bytes: buildDhcp({
            op: DhcpOp.BOOTREQUEST,
            xid,
            secs: 3,
            broadcast: true,
            chaddr: CLIENT,
            messageType: DhcpMessageType.DISCOVER,
            clientId: ethernetClientId(CLIENT),
            hostName: 'fishnet-netd',
            parameterRequestList: [1, 3, 6, 51, 54, 58, 59],
            requestedIp: ipv4('10.0.0.50'),
          }),
        },
        {
          fromServer: true,
          bytes: buildDhcp({
            op: DhcpOp.BOOTREPLY,
            xid,
            broadcast: true,
            chaddr: CLIENT,
            yiaddr: ipv4('10.0.0.50'),
            messageType: DhcpMessageType.OFFER,
            serverId: SERVER,
            leaseTime: 3600,
            renewalTime: 1800,
            rebindingTime: 3150,
            subnetMask: ipv4('255.255.255.0'),
            routers: [SERVER],
            dns: [ipv4('10.0.0.53'), ipv4('10.0.0.54')],
          }),
        },
        {
          fromServer: true,
          bytes: buildDhcp({
            op: DhcpOp.BOOTREPLY,
            xid,
            chaddr: CLIENT,
            messageType: DhcpMessageType.NAK,
            serverId: SERVER,
            message: 'address not available',
          }),
        },
      ];
      const w = new PcapWriter();
      for (const [i, m] of msgs.entries()) {
        w.add(
          udpFrame({
            dstMac: BROADCAST_MAC,
            srcMac: m.fromServer ? SERVER_MAC : CLIENT,
            src: m.fromServer ? SERVER : IPV4_ANY,
            dst: IPV4_BROADCAST,
            srcPort: m.fromServer ? DHCP_SERVER_PORT : DHCP_CLIENT_PORT,
            dstPort: m.fromServer ? DHCP_CLIENT_PORT : DHCP_SERVER_PORT,
            payload: m.bytes,
          }),
          1_700_000_000_000 + i,
        );
      }
      const file = join(dir, 'dhcp.pcap');
      w.writeFile(file);
      const fields = [
        'dhcp.type',
        'dhcp.id',
        'dhcp.flags.bc',
        'dhcp.hw.mac_addr',
        'dhcp.ip.your',
        'dhcp.cookie',
        'dhcp.option.dhcp',
        'dhcp.option.requested_ip_address',
        'dhcp.option.ip_address_lease_time',
        'dhcp.option.renewal_time_value',
        'dhcp.option.rebinding_time_value',
        'dhcp.option.dhcp_server_id',
        'dhcp.option.subnet_mask',
        'dhcp.option.router',
        'dhcp.option.domain_name_server',
        'dhcp.option.hostname',
        'dhcp.option.request_list_item',
        'dhcp.option.message',
        'udp.checksum.status',
        '_ws.malformed',
        '_ws.expert.severity',
      ];
      const out = execFileSync(
        'tshark',
        [
          '-r',
          file,
          '-o',
          'udp.check_checksum:TRUE',
          '-T',
          'fields',
          '-E',
          'separator=|',
          ...fields.flatMap((f) => ['-e', f]),
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      const rows = out
        .trim()
        .split('\n')
        .map((l) => Object.fromEntries(l.split('|').map((v, i) => [fields[i]!, v])));
      t.is(rows.length, 3);
      const [discover, offer, nak] = rows as Record<string, string>[];
      t.like(discover, {
        'dhcp.type': '1',
        'dhcp.id': '0x1234abcd',
        'dhcp.flags.bc': '1',
        'dhcp.hw.mac_addr': '02:00:00:00:00:42,02:00:00:00:00:42', // chaddr, and the client identifier's
        'dhcp.cookie': '99.130.83.99',
        'dhcp.option.dhcp': '1',
        'dhcp.option.requested_ip_address': '10.0.0.50',
        'dhcp.option.hostname': 'fishnet-netd',
        'dhcp.option.request_list_item': '1,3,6,51,54,58,59',
        'udp.checksum.status': '1',
        '_ws.malformed': '',
      });
      t.like(offer, {
        'dhcp.type': '2',
        'dhcp.ip.your': '10.0.0.50',
        'dhcp.option.dhcp': '2',
        'dhcp.option.ip_address_lease_time': '3600',
        'dhcp.option.renewal_time_value': '1800',
        'dhcp.option.rebinding_time_value': '3150',
        'dhcp.option.dhcp_server_id': '10.0.0.1',
        'dhcp.option.subnet_mask': '255.255.255.0',
        'dhcp.option.router': '10.0.0.1',
        'dhcp.option.domain_name_server': '10.0.0.53,10.0.0.54',
        '_ws.malformed': '',
      });
      t.like(nak, {
        'dhcp.option.dhcp': '6',
        'dhcp.option.message': 'address not available',
        '_ws.malformed': '',
      });
      const ERROR = 8388608; // expert info severity "error"
      for (const r of rows) t.false((r['_ws.expert.severity'] ?? '').split(',').map(Number).includes(ERROR));
      // The full dissection (-V) names the client identifier and ends every message's options.
      const verbose = execFileSync('tshark', ['-r', file, '-V'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      t.regex(verbose, /Client identifier[\s\S]*Hardware type: Ethernet[\s\S]*02:00:00:00:00:42/);
      t.is(verbose.match(/Option: \(255\) End/g)?.length, 3);
      t.notRegex(verbose, /Malformed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('the address helpers DHCP relies on: host addresses, masks, subnets, group MACs', (t) => {
  t.true(isHostIpv4(ipv4('10.0.0.1')));
  for (const a of [
    '0.0.0.0',
    '0.1.2.3',
    '127.0.0.1',
    '224.0.0.1',
    '239.255.255.255',
    '240.0.0.1',
    '255.255.255.255',
  ])
    t.false(isHostIpv4(ipv4(a)), a);
  for (const [m, len] of [
    ['0.0.0.0', 0],
    ['128.0.0.0', 1],
    ['255.255.255.0', 24],
    ['255.255.255.254', 31],
    ['255.255.255.255', 32],
  ] as const) {
    t.true(isContiguousMask(ipv4(m)), m);
    t.is(prefixLength(ipv4(m)), len, m);
  }
  for (const m of ['255.0.255.0', '0.255.255.255', '255.255.255.253']) t.false(isContiguousMask(ipv4(m)), m);
  t.is(classfulMask(ipv4('10.1.2.3')), ipv4('255.0.0.0'));
  t.is(classfulMask(ipv4('172.16.0.1')), ipv4('255.255.0.0'));
  t.is(classfulMask(ipv4('192.168.1.1')), ipv4('255.255.255.0'));
  t.is(networkOf(ipv4('192.168.1.77'), ipv4('255.255.255.192')), ipv4('192.168.1.64'));
  t.is(subnetBroadcast(ipv4('192.168.1.77'), ipv4('255.255.255.192')), ipv4('192.168.1.127'));
  t.is(subnetBroadcast(ipv4('10.0.0.1'), ipv4('0.0.0.0')), IPV4_BROADCAST);
  t.true(isMulticastMac(BROADCAST_MAC));
  t.true(isMulticastMac(mac('01:00:5e:00:00:01')));
  t.true(isMulticastMac(mac('33:33:00:00:00:01')));
  t.false(isMulticastMac(mac('02:00:00:00:00:01')));
  t.false(isMulticastMac(mac('fe:ff:ff:ff:ff:ff')));
});
