// The Linux kernel as a peer on a fishnet segment. Two network namespaces joined by
// a veth pair with a link-local /30 underlay: in one, a Linux vxlan device with an
// address on the overlay; in the other, fishnet's VXLAN socket (a kernel vxlan
// device cannot reach a user-space end point over plain loopback, hence the pair).
// Everything it makes carries the creating process's pid in its name, so that what
// a killed run left behind is recognised and removed by the next, and it removes
// all of it on remove(), on process exit, and on SIGINT/SIGTERM while it lives.
// Needs root and iproute2; cannotRun() says why not, before anything is made.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PREFIX = 'fishnet-';

export interface LinuxPeerOptions {
  /** The VXLAN network identifier (default 0x0f15). */
  readonly vni?: number;
  /** The VXLAN UDP port at both ends (default 4789). */
  readonly port?: number;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const ip = (...args: string[]) =>
  execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Is `tool` on the PATH? */
export function hasTool(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let serial = 0;

export class LinuxPeer {
  /** Children started in the namespaces: killed before the namespaces go. */
  private readonly children = new Set<ChildProcess>();
  private removed = false;
  private readonly onExit = () => this.removeNow();
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.removeNow();
    process.kill(process.pid, sig);
  };

  private constructor(
    /** The namespace with the Linux vxlan device. */
    readonly nsLinux: string,
    /** The namespace for fishnet's end (its UDP socket). */
    readonly nsFish: string,
    readonly underlayLinux: string,
    readonly underlayFish: string,
    /** Linux's address on the overlay, and the one fishnet's machine is given. */
    readonly linuxIp: string,
    readonly fishIp: string,
    readonly vni: number,
    readonly port: number,
    /** The Linux vxlan device's MAC. */
    readonly linuxMac: string,
  ) {
    process.once('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /** '' when it can run here, else why not (not root, no `ip`, no namespaces, no vxlan). */
  static cannotRun(): string {
    if (process.platform !== 'linux') return 'needs Linux';
    if (process.getuid?.() !== 0) return 'needs root (it makes network namespaces)';
    if (!hasTool('ip')) return 'needs iproute2 (`ip`): apt-get install iproute2';
    if (!hasTool('ethtool'))
      return 'needs ethtool (to turn off checksum offload on the vxlan device): apt-get install ethtool';
    const probe = `${PREFIX}${process.pid.toString(36)}-probe`;
    try {
      ip('netns', 'add', probe);
    } catch (e) {
      return `cannot make a network namespace: ${(e as { stderr?: string }).stderr?.trim()}`;
    }
    try {
      ip('-n', probe, 'link', 'add', 'vxprobe', 'type', 'vxlan', 'id', '1', 'dstport', '4789');
      return '';
    } catch (e) {
      return `the kernel cannot make vxlan devices: ${(e as { stderr?: string }).stderr?.trim()}`;
    } finally {
      ip('netns', 'del', probe);
    }
  }

  /** Remove what runs that are no longer alive left behind. */
  static removeStale(): void {
    for (const name of LinuxPeer.namespaces()) {
      const pid = Number.parseInt(name.slice(PREFIX.length).split('-')[0] ?? '', 36);
      if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) LinuxPeer.deleteNs(name);
    }
  }

  private static namespaces(): string[] {
    return ip('netns', 'list')
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n.startsWith(PREFIX));
  }

  private static deleteNs(name: string): void {
    try {
      ip('netns', 'del', name); // takes the veth end and the vxlan device in it along
    } catch {
      // already gone
    }
  }

  static async create(opts: LinuxPeerOptions = {}): Promise<LinuxPeer> {
    const why = LinuxPeer.cannotRun();
    if (why) throw new Error(`cannot run a Linux peer: ${why}`);
    LinuxPeer.removeStale();
    const tag = `${process.pid.toString(36)}-${serial++}`;
    const nsLinux = `${PREFIX}${tag}-linux`;
    const nsFish = `${PREFIX}${tag}-fish`;
    // Addresses from the pid and the serial, so that parallel runs do not meet.
    const x = ((process.pid * 7 + serial) % 250) + 1;
    const underlayLinux = `169.254.${x}.1`;
    const underlayFish = `169.254.${x}.2`;
    const linuxIp = `10.213.${x}.1`;
    const fishIp = `10.213.${x}.2`;
    const vni = opts.vni ?? 0x0f15;
    const port = opts.port ?? 4789;
    try {
      ip('netns', 'add', nsLinux);
      ip('netns', 'add', nsFish);
      const vethL = `fnv${tag.replace('-', '')}l`.slice(0, 15);
      const vethF = `fnv${tag.replace('-', '')}f`.slice(0, 15);
      ip('link', 'add', vethL, 'netns', nsLinux, 'type', 'veth', 'peer', 'name', vethF, 'netns', nsFish);
      ip('-n', nsLinux, 'addr', 'add', `${underlayLinux}/30`, 'dev', vethL);
      ip('-n', nsFish, 'addr', 'add', `${underlayFish}/30`, 'dev', vethF);
      for (const [ns, dev] of [
        [nsLinux, vethL],
        [nsFish, vethF],
        [nsLinux, 'lo'],
        [nsFish, 'lo'],
      ] as const)
        ip('-n', ns, 'link', 'set', dev, 'up');
      // The overlay's MTU leaves room for the VXLAN header inside the veth's 1500.
      ip(
        '-n',
        nsLinux,
        'link',
        'add',
        'vx0',
        'type',
        'vxlan',
        'id',
        String(vni),
        'dstport',
        String(port),
        'local',
        underlayLinux,
        'remote',
        underlayFish,
        'dev',
        vethL,
      );
      ip('-n', nsLinux, 'addr', 'add', `${linuxIp}/24`, 'dev', 'vx0');
      // With offload on, Linux leaves the inner UDP checksum to hardware that is not
      // there: fishnet (as any receiver that checks) would drop its datagrams.
      execFileSync('ip', ['netns', 'exec', nsLinux, 'ethtool', '-K', 'vx0', 'tx', 'off'], {
        stdio: 'ignore',
      });
      ip('-n', nsLinux, 'link', 'set', 'vx0', 'up');
      const [vx] = JSON.parse(ip('-j', '-n', nsLinux, 'link', 'show', 'vx0')) as { address: string }[];
      return new LinuxPeer(
        nsLinux,
        nsFish,
        underlayLinux,
        underlayFish,
        linuxIp,
        fishIp,
        vni,
        port,
        vx!.address,
      );
    } catch (e) {
      LinuxPeer.deleteNs(nsLinux);
      LinuxPeer.deleteNs(nsFish);
      throw new Error(
        `making the namespaces failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`,
      );
    }
  }

  /** The `--vxlan` value for fishnet's end. */
  get vxlanFlag(): string {
    return `remote=${this.underlayLinux},vni=${this.vni},local=${this.underlayFish},port=${this.port}`;
  }

  /** Run a command in Linux's namespace; resolves with its exit code and output (never rejects on a code). */
  exec(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
    return this.execIn(this.nsLinux, cmd, args, timeoutMs);
  }

  /** Run a command in fishnet's namespace. */
  execFish(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
    return this.execIn(this.nsFish, cmd, args, timeoutMs);
  }

  private execIn(ns: string, cmd: string, args: readonly string[], timeoutMs: number): Promise<ExecResult> {
    return new Promise((resolve) => {
      const child = execFile(
        'ip',
        ['netns', 'exec', ns, cmd, ...args],
        { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          this.children.delete(child);
          const code = err
            ? typeof (err as { code?: unknown }).code === 'number'
              ? (err as { code: number }).code
              : 1
            : 0;
          resolve({ code, stdout, stderr });
        },
      );
      this.children.add(child);
    });
  }

  /** Start a long-running command in Linux's namespace (killed by remove()). */
  spawn(cmd: string, args: readonly string[]): ChildProcess {
    return this.spawnIn(this.nsLinux, cmd, args);
  }

  /** Start a long-running command in fishnet's namespace (killed by remove()). */
  spawnFish(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
    return this.spawnIn(this.nsFish, cmd, args, env);
  }

  private spawnIn(ns: string, cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * `fishnet up` in fishnet's namespace, joined to Linux's segment by VXLAN, with
   * the address `fishIp/24` and these extra flags; resolves when it prints its line.
   */
  async fishnetUp(flags: readonly string[], env?: NodeJS.ProcessEnv): Promise<FishnetProcess> {
    const bin = fileURLToPath(new URL('../bin/fishnet.mjs', import.meta.url));
    const child = this.spawnFish(
      process.execPath,
      [bin, 'up', '--json', '--address', `${this.fishIp}/24`, '--vxlan', this.vxlanFlag, ...flags],
      env,
    );
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
      });
      void exited.then((code) =>
        reject(new Error(`fishnet up exited (${code}) before it was up: ${err.trim()}`)),
      );
    });
    return {
      child,
      up: line,
      stderr: () => err,
      stop: async () => {
        child.kill('SIGTERM');
        return exited;
      },
    };
  }

  /** Kill what it started and delete the namespaces (the veth and vxlan devices go with them). */
  async remove(): Promise<void> {
    const waits = [...this.children].map(
      (c) =>
        new Promise<void>((resolve) =>
          c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()),
        ),
    );
    for (const c of this.children) c.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const c of this.children) c.kill('SIGKILL');
    }, 3000);
    await Promise.all(waits);
    clearTimeout(timer);
    this.removeNow();
  }

  private removeNow(): void {
    if (this.removed) return;
    this.removed = true;
    for (const c of this.children) c.kill('SIGKILL');
    LinuxPeer.deleteNs(this.nsLinux);
    LinuxPeer.deleteNs(this.nsFish);
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

export interface FishnetProcess {
  readonly child: ChildProcess;
  /** Its "up" line (JSON). */
  readonly up: Record<string, unknown>;
  stderr(): string;
  /** SIGTERM, and its exit code. */
  stop(): Promise<number | null>;
}
