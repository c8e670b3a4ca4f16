// Threads for actors. Starting a Node worker costs ~40-50 ms here, most of it before
// any actor code runs, so a runtime may keep `prestart` threads booted and idle,
// waiting for their assignment; spawn then costs little more than loading the
// module. A spawn with its own resource limits always gets a fresh thread (limits
// are fixed when a thread starts).

import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { Err } from '../protocols/errors.ts';
import type { ResourceLimits } from './spec.ts';
import { BOOT_SCRIPT } from './worker/boot.ts';

export interface Thread {
  readonly worker: Worker;
  readonly ctlPort: MessagePort;
}

export class ThreadPool {
  private readonly idle: Thread[] = [];
  private closed = false;
  private refill: ReturnType<typeof setImmediate> | undefined;

  constructor(
    private readonly size: number,
    private readonly defaults: ResourceLimits | undefined,
  ) {
    this.fill();
  }

  get idleCount(): number {
    return this.idle.length;
  }

  take(limits: ResourceLimits | undefined): Thread {
    if (limits === undefined) {
      const t = this.idle.shift();
      if (t) {
        t.worker.ref();
        this.scheduleFill();
        return t;
      }
    }
    return start(limits ?? this.defaults);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.refill) clearImmediate(this.refill);
    const all = this.idle.splice(0);
    await Promise.all(
      all.map((t) => {
        t.ctlPort.close();
        return t.worker.terminate();
      }),
    );
  }

  private scheduleFill(): void {
    if (this.refill || this.closed) return;
    this.refill = setImmediate(() => {
      this.refill = undefined;
      this.fill();
    });
  }

  private fill(): void {
    while (!this.closed && this.idle.length < this.size) {
      const t = start(this.defaults);
      // Idle threads must not keep the program alive.
      t.worker.unref();
      t.worker.once('exit', () => {
        const i = this.idle.indexOf(t);
        if (i >= 0) this.idle.splice(i, 1);
      });
      this.idle.push(t);
    }
  }
}

function start(limits: ResourceLimits | undefined): Thread {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(BOOT_SCRIPT, {
    eval: true,
    workerData: { ctl: port2, loadErrorCode: Err.RT_ERR_MODULE_LOAD, sourceMaps: process.sourceMapsEnabled },
    transferList: [port2],
    resourceLimits: limits,
  });
  return { worker, ctlPort: port1 };
}
