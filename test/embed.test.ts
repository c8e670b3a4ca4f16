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
