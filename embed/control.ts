// How a running `fishnet up` is reached: a Unix socket in the run directory, one per
// machine name (`$FISHNET_RUN_DIR` or `<tmpdir>/fishnet`, then `<name>.sock`). The
// protocol is JSON lines: a request `{"op": "ports"}` gets one line back,
// `{"ok": true, "result": ...}` or `{"ok": false, "error": "..."}`. A filesystem
// socket crosses network namespaces, so `fishnet stats` reaches a machine that runs
// inside one. Requests are checked: a line past 64 KiB, bad JSON or an unknown op
// gets an error answer, never a crash.
import { existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAX_LINE = 64 << 10;

export function runDir(): string {
  return process.env.FISHNET_RUN_DIR || join(tmpdir(), 'fishnet');
}

export function controlPath(name: string, dir = runDir()): string {
  return join(dir, `${name}.sock`);
}

export type ControlHandlers = Record<string, () => unknown>;

export class ControlServer {
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  /** Listen at the machine's path; refuses when a live machine of that name answers there. */
  static async listen(name: string, handlers: ControlHandlers): Promise<ControlServer> {
    const path = await ControlServer.claim(name);
    const server = createServer();
    const cs = new ControlServer(path, server);
    server.on('connection', (s) => cs.serve(s, handlers));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return cs;
  }

  /** The machine's socket path, if no live machine of that name answers there (a stale one is removed). */
  static async claim(name: string): Promise<string> {
    const path = controlPath(name);
    mkdirSync(runDir(), { recursive: true, mode: 0o700 });
    if (existsSync(path)) {
      if (await answers(path)) throw new Error(`a machine named '${name}' is already up (${path})`);
      unlinkSync(path); // left by one that died
    }
    return path;
  }

  private serve(s: Socket, handlers: ControlHandlers): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy());
    let pending = '';
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      pending += chunk;
      if (pending.length > MAX_LINE && !pending.includes('\n')) {
        s.end(
          `${JSON.stringify({ ok: false, error: `a request is one line of at most ${MAX_LINE} bytes` })}\n`,
        );
        pending = '';
        return;
      }
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        void this.answer(line, handlers).then((reply) => {
          if (!s.destroyed) s.write(`${reply}\n`);
        });
        nl = pending.indexOf('\n');
      }
    });
  }

  private async answer(line: string, handlers: ControlHandlers): Promise<string> {
    let op: unknown;
    try {
      op = (JSON.parse(line) as { op?: unknown })?.op;
    } catch {
      return JSON.stringify({ ok: false, error: 'a request is a JSON object like {"op": "stats"}' });
    }
    if (typeof op !== 'string' || !Object.hasOwn(handlers, op)) {
      return JSON.stringify({
        ok: false,
        error: `unknown op ${JSON.stringify(op)}; ops: ${Object.keys(handlers).join(', ')}`,
      });
    }
    try {
      return JSON.stringify({ ok: true, result: await handlers[op]!() }, bigints);
    } catch (e) {
      return JSON.stringify({ ok: false, error: (e as Error).message ?? String(e) });
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // gone already
    }
  }
}

function bigints(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? Number(v) : v;
}

/** Does something listen at `path`? */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Ask a running machine; rejects with a message that says what went wrong. */
export function controlRequest(name: string, op: string, timeoutMs = 10_000, dir?: string): Promise<unknown> {
  const path = controlPath(name, dir);
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer from '${name}' at ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify({ op })}\n`));
    s.on('data', (chunk: string) => {
      data += chunk;
      const nl = data.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      s.destroy();
      try {
        const reply = JSON.parse(data.slice(0, nl)) as { ok: boolean; result?: unknown; error?: string };
        if (reply.ok) resolve(reply.result);
        else reject(new Error(reply.error));
      } catch {
        reject(new Error(`a reply from ${path} that is not JSON`));
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new Error(
          e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
            ? `no machine named '${name}' is up (nothing at ${path}; start one with 'fishnet up --name ${name}')`
            : `${path}: ${e.message}`,
        ),
      );
    });
  });
}
