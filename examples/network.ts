// A network inside your program: two machines on a virtual switch, a DHCP server and
// an echo service on one, the other leasing its address, and an actor of your own
// that talks UDP through fishnet's stack. Run: npx tsx examples/network.ts
import { APPS, type ApiOf, createNetwork } from 'fishnet';
import type Hello from './hello.ts';

const net = await createNetwork();
try {
  // A machine: an emulated e1000 in its own thread, its driver, and netd.
  const server = await net.boot({ name: 'server', address: '10.0.0.1/24' });
  await server.spawn({ module: APPS.dhcpd!.module, args: { router: '10.0.0.1' }, lowPorts: true });
  await server.spawn({ module: APPS['udp-echo']!.module, args: { port: 7 }, lowPorts: true });

  // This one's netd leases an address from the server's dhcpd before boot() returns.
  const client = await net.boot({ name: 'client', address: { dhcp: {} } });
  const hello = await client.spawn<ApiOf<typeof Hello>>({
    module: new URL('./hello.ts', import.meta.url),
    args: { to: '10.0.0.1', port: 7 },
  });
  console.log('echoed:', await hello.api.ask('hello, fishnet'));

  const view = await client.inspect();
  console.log(
    `client leased ${view.lease ? 'an address' : 'nothing'}; ports:`,
    view.ports.map((p) => p.port),
  );
  await client.kill(hello); // resolves when netd and the driver have let go of it
  console.log('ports after the kill:', (await client.inspect()).ports.length);
} finally {
  await net.close(); // every machine, thread and actor stops
}
