// A network: the segment fishnet machines share. By default an in-process virtual
// switch (a learning bridge); a VXLAN uplink puts the same segment on a UDP tunnel,
// so that the Linux kernel or a fishnet machine in another process shares it.
// Frames a program injects or reads come from, and go to, a link on the switch:
// `network.tap()` is a cable whose far end is plugged into the switch.

import {
  type CableOptions,
  cable,
  type FramePort,
  type SwitchPort,
  type SwitchStats,
  VirtualSwitch,
  type VxlanOptions,
  VxlanPort,
} from '../lib/phy/index.ts';

export class Network {
  readonly switch = new VirtualSwitch();
  private readonly owned: FramePort[] = [];
  private closed = false;

  /** Plug a link into the switch; returns its switch port (detach() to unplug). */
  attach(port: FramePort): SwitchPort {
    return this.switch.attach(port);
  }

  /**
   * A cable with one end in the switch: send frames on the returned end and they are
   * on the segment; set its receiver to see what the switch delivers to it.
   */
  tap(options?: CableOptions): FramePort {
    const [near, far] = cable(options);
    this.switch.attach(far);
    this.owned.push(near, far);
    return near;
  }

  /** Carry this segment over VXLAN too (the Linux kernel's vxlan device speaks it). */
  async vxlan(options: VxlanOptions): Promise<VxlanPort> {
    const v = await VxlanPort.open(options);
    this.switch.attach(v);
    this.owned.push(v);
    return v;
  }

  get stats(): SwitchStats {
    return this.switch.stats;
  }

  /** Unplug and close every link this network made; the switch stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.switch.close();
    await Promise.all(this.owned.map((p) => p.close()));
  }
}
