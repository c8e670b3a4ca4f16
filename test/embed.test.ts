// The embedding API's own promises, beyond what the examples show.
import test from 'ava';
import { createNetwork } from '../embed/fishnet.ts';

const ECHO = new URL('../actors/apps/udp-echo.ts', import.meta.url);

test('default application names count up and are never reused, whatever was killed', async (t) => {
  const net = await createNetwork({ runtimeOptions: { prestart: 0 } });
  try {
    const m = await net.boot({ name: 'names', address: '10.6.0.2/24' });
    const a = await m.spawn({ module: ECHO, args: { port: 7001 } });
    const b = await m.spawn({ module: ECHO, args: { port: 7002 } });
    t.deepEqual([a.name, b.name], ['names/udp-echo-1', 'names/udp-echo-2']);
    const { cleanupMs } = await m.kill(a);
    t.true(cleanupMs >= 0);
    const c = await m.spawn({ module: ECHO, args: { port: 7003 } });
    t.is(c.name, 'names/udp-echo-3');
    t.deepEqual(m.running.map((r) => r.name).sort(), ['names/udp-echo-2', 'names/udp-echo-3']);
  } finally {
    await net.close();
  }
});

test('bad options are refused before anything starts, naming the option', async (t) => {
  await t.throwsAsync(createNetwork({ vxlann: {} } as never), {
    message: /createNetwork: unknown option 'vxlann'/,
  });
  const net = await createNetwork({ runtimeOptions: { prestart: 0 } });
  try {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ pcapp: 'x.pcap' }, /Machine.boot\(bad\): unknown option 'pcapp'/],
      [{ poll: { driver: Number.NaN } }, /poll: option 'driver' must be an integer in 0..1000000, not NaN/],
      [{ poll: { drivr: 3 } }, /poll: unknown option 'drivr'/],
      [{ nic: { itr: -5 } }, /option 'itr' must be an integer in 0..65535, not -5/],
      [{ nic: { headerSlots: 1.5 } }, /option 'headerSlots' must be an integer in 1..65536, not 1.5/],
      [{ nic: { rxDescriptors: 12 } }, /rxDescriptors must be a multiple of 8 in 8..4096, not 12/],
      [
        { driver: { fragments: { expiryMs: Number.NaN } } },
        /option 'expiryMs' must be a number in 1..2147483647, not NaN/,
      ],
      [{ driver: { fragment: {} } }, /driver: unknown option 'fragment'/],
    ];
    for (const [extra, message] of cases) {
      await t.throwsAsync(
        net.boot({ name: 'bad', address: '10.7.0.2/24', ...extra } as never),
        { message },
        JSON.stringify(extra),
      );
    }
    // Nothing of the refused machines is left: the name boots now.
    // Good ones of every part: the device's, the link's, the driver's.
    const m = await net.boot({
      name: 'bad',
      address: '10.7.0.2/24',
      poll: { driver: 2, device: 8 },
      nic: { itr: 0, queueFrames: 2048, dmaBytes: 16 << 20, rxDescriptors: 1024 },
      driver: { fragments: { expiryMs: 10_000 } },
    });
    t.is(m.name, 'bad');
  } finally {
    await net.close();
  }
});
