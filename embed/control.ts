// How a running `fishnet up` is reached: a Unix socket in the run directory, one per
// machine name (`$FISHNET_RUN_DIR` or `<tmpdir>/fishnet`, then `<name>.sock`). The
// protocol is JSON lines: a request `{"op": "ports"}` gets one line back,
// `{"ok": true, "result": ...}` or `{"ok": false, "error": "..."}`. A filesystem
// socket crosses network namespaces, so `fishnet stats` reaches a machine that runs
// inside one. Requests are checked: a line past 64 KiB, bad JSON or an unknown op
// gets an error answer, never a crash; a connection is answered one request at a
// time (reading pauses while answers back up), at most 32 connections are served,
// and one idle for 30 s is closed.
import { chmodSync, existsSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAX_LINE = 64 << 10;
/** Requests read ahead of their answers on one connection before reading pauses. */
const MAX_QUEUED = 16;
const MAX_CONNECTIONS = 32;
const IDLE_MS = 30_000;

export function runDir(): string {
  return process.env.FISHNET_RUN_DIR || join(tmpdir(), 'fishnet');
}

export function controlPath(name: string, dir = runDir()): string {
  return join(dir, `${name}.sock`);
}

export type ControlHandlers = Record<string, () => unknown>;

export class ControlServer {
  private readonly sockets = new Set<Socket>();
  /** Connections refused at the limit, until they are gone: close() must not wait on them. */
  private readonly refused = new Set<Socket>();

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
    const dir = runDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // A directory someone else made could hold a socket that answers for us.
    const st = statSync(dir);
    if (process.getuid && st.uid !== process.getuid()) {
      throw new Error(
        `${dir} belongs to another user (uid ${st.uid}): set FISHNET_RUN_DIR to a directory of yours`,
      );
    }
    if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
    if (existsSync(path)) {
      if (await answers(path)) throw new Error(`a machine named '${name}' is already up (${path})`);
      unlinkSync(path); // left by one that died
    }
    return path;
  }

  private serve(s: Socket, handlers: ControlHandlers): void {
    s.on('error', () => s.destroy()); // first: a peer that resets must not take the server down
    if (this.sockets.size >= MAX_CONNECTIONS) {
      this.refused.add(s);
      s.on('close', () => this.refused.delete(s));
      s.end(`${JSON.stringify({ ok: false, error: `at most ${MAX_CONNECTIONS} connections at once` })}\n`);
      return;
    }
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    // A client that says nothing for a while is let go.
    s.setTimeout(IDLE_MS, () => s.destroy());
    s.setEncoding('utf8');
    let pending = '';
    const lines: string[] = [];
    let busy = false;
    // One request at a time per connection, and no more read while replies back up:
    // a client that writes without reading cannot make the server hold its answers.
    const pump = async () => {
      if (busy) return;
      busy = true;
      while (lines.length > 0 && !s.destroyed) {
        const reply = await this.answer(lines.shift()!, handlers);
        if (s.destroyed) break;
        if (!s.write(`${reply}\n`))
          await new Promise<void>((r) => s.once('drain', () => r()).once('close', () => r()));
      }
      busy = false;
      if (!s.destroyed && s.isPaused()) s.resume();
    };
    s.on('data', (chunk: string) => {
      pending += chunk;
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        if (nl > MAX_LINE) break;
        lines.push(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
      }
      if ((nl < 0 ? pending.length : nl) > MAX_LINE) {
        s.end(
          `${JSON.stringify({ ok: false, error: `a request is one line of at most ${MAX_LINE} bytes` })}\n`,
        );
        pending = '';
        lines.length = 0;
        return;
      }
      if (lines.length >= MAX_QUEUED) s.pause();
      void pump();
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
    for (const s of [...this.sockets, ...this.refused]) s.destroy();
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
