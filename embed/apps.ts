// The applications that come with fishnet, by name, for `fishnet up --app NAME:PORT`
// (and for programs that would rather name one than find its module).
export interface AppEntry {
  readonly module: URL;
  readonly about: string;
  /** `NAME:PORT`: what the port means to it ('binds' it; undefined: it takes none). */
  readonly port?: { readonly binds: boolean; readonly required: boolean };
  /** The `key=value` arguments it accepts after the name, and their kinds. */
  readonly keys: Readonly<Record<string, 'number' | 'string'>>;
  /** Its spawn arguments (besides `machine`) from the port and the checked keys. */
  args(port: number | undefined, kv: Readonly<Record<string, string | number>>): Record<string, unknown>;
  /** The method of its API whose counters `fishnet stats` shows. */
  readonly stats: 'stats' | 'counters' | undefined;
  /** It always binds a port below 1024. */
  readonly lowPorts?: boolean;
}

const at = (path: string) => new URL(path, import.meta.url);

/** An IPv4 address literal, or a RangeError naming the key and the value. */
function address(key: string, v: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) throw new RangeError(`${key}=${v}: not an IPv4 address`);
  return v;
}

/** 'ADDR:PORT' into a generator's target, or a message naming what is wrong. */
function target(v: string): { address: string; port: number } {
  const m = /^([^:]+):(\d+)$/.exec(v);
  const port = Number(m?.[2]);
  if (!m || !(port >= 1 && port <= 65535)) throw new RangeError(`to=${v}: expected ADDR:PORT`);
  return { address: address('to', m[1]!), port };
}

export const APPS: Readonly<Record<string, AppEntry>> = {
  'udp-echo': {
    module: at('../actors/apps/udp-echo.ts'),
    about: 'echoes every UDP datagram to its port back to its sender (udp-echo:7)',
    port: { binds: true, required: true },
    keys: {},
    args: (port) => ({ port }),
    stats: 'counters',
  },
  'udp-traffic': {
    module: at('../actors/apps/udp-traffic.ts'),
    about: 'a UDP sink on PORT, and a generator with to=ADDR:PORT[,size=B][,rate=N/s][,count=N]',
    port: { binds: true, required: false },
    keys: { to: 'string', size: 'number', rate: 'number', count: 'number' },
    args: (port, kv) => ({
      ...(port !== undefined ? { sink: { port } } : {}),
      ...(kv.to !== undefined
        ? {
            generate: {
              ...target(String(kv.to)),
              size: kv.size,
              rate: kv.rate,
              count: kv.count,
            },
          }
        : {}),
    }),
    stats: 'counters',
  },
  dhcpd: {
    module: at('../actors/apps/dhcpd.ts'),
    about: 'a DHCP server on port 67: pool=FIRST-LAST, router=ADDR, lease=SECONDS',
    keys: { pool: 'string', router: 'string', lease: 'number' },
    lowPorts: true,
    args: (_port, kv) => {
      const pool = kv.pool === undefined ? undefined : String(kv.pool).split('-');
      if (pool && pool.length !== 2) throw new RangeError(`pool=${kv.pool}: expected FIRST-LAST`);
      for (const a of pool ?? []) address('pool', a);
      return {
        pool,
        router: kv.router === undefined ? undefined : address('router', String(kv.router)),
        leaseSeconds: kv.lease,
      };
    },
    stats: 'stats',
  },
  malicious: {
    module: at('../actors/apps/malicious/main.ts'),
    about: 'tries every way to forge frames or hurt other clients (malicious:VICTIM_PORT)',
    port: { binds: false, required: false },
    keys: { flood: 'number', race: 'number' },
    args: (port, kv) => ({ victimPort: port, floodFrames: kv.flood, raceFrames: kv.race }),
    stats: undefined,
  },
};

/** Does this app bind a port below 1024 (and so need the machine's low-port capability)? */
export function needsLowPorts(app: AppEntry, port: number | undefined): boolean {
  return app.lowPorts === true || ((app.port?.binds ?? false) && port !== undefined && port < 1024);
}
