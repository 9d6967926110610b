import type { Memory } from "@tpdk/eal";
import type { LoopConfig } from "./config.js";
import { CTL_DOORBELL, CTL_PASSES, CTL_SLEEPS, CTL_STATE, CTL_STOP, THREAD_RUNNING, THREAD_STOPPED } from "./layout.js";
import { NetDevice } from "./net-device.js";
import { RxBuffers } from "./rx-path.js";
import { Chain } from "./virtqueue.js";
import type { Wire } from "./wire.js";
import { makeWire } from "./wire-factory.js";

/** First sleep on the doorbell, ms. */
const MIN_SLEEP_MS = 0.02;
/** Housekeeping period (heartbeat, kicks, link, exhausted flag), ms. */
const TICK_MS = 1;

/**
 * The device thread's loop: ONE thread polls every queue of every device.
 *
 * pass() is one sweep (clock read once, each device's trap mailbox and queues,
 * housekeeping about once per ms); tests call it directly to step the devices
 * deterministically. run() repeats passes until the stop word is set, with an
 * idle policy: after `spinPasses` empty passes it asks the drivers for kicks
 * (clears NO_NOTIFY / writes avail_event), snapshots the doorbell, re-checks
 * every queue once more, and only then sleeps on the doorbell with a timeout
 * growing from 20 µs to maxSleepMs. Drivers notify the doorbell on every kick
 * and trap; a notify that lands between the re-check and the sleep is covered
 * by the timeout (and by the snapshot, for drivers that also bump the word).
 * As soon as a pass finds work, kicks are suppressed again.
 */
export class DeviceLoop {
  readonly devices: NetDevice[];
  private readonly i32: Int32Array;
  private readonly doorbellI: number;
  private readonly stopI: number;
  private readonly stateI: number;
  private readonly busyPoll: boolean;
  private readonly spinPasses: number;
  private readonly maxSleepMs: number;
  private nextTick = 0;
  private passes = 0;
  private sleeps = 0;
  private notifyOn = false;
  private dirty = false;
  private closed = false;

  /**
   * Build the devices and their wires (cold). `wires` overrides the wire of
   * the named devices (tests).
   */
  constructor(mem: Memory, cfg: LoopConfig, wires: Readonly<Record<string, Wire>> = {}) {
    this.i32 = mem.i32;
    this.doorbellI = (cfg.ctlOffset + CTL_DOORBELL) >>> 2;
    this.stopI = (cfg.ctlOffset + CTL_STOP) >>> 2;
    this.stateI = (cfg.ctlOffset + CTL_STATE) >>> 2;
    this.busyPoll = cfg.busyPoll;
    this.spinPasses = cfg.spinPasses;
    this.maxSleepMs = cfg.maxSleepMs;
    let maxQ = 1;
    for (const d of cfg.devices) maxQ = Math.max(maxQ, d.maxQueueSize);
    // Room for one chain of every descriptor of the biggest queue, twice over
    // (MRG_RXBUF frames gather several chains).
    const chain = new Chain(2 * maxQ + 64);
    const rxBufs = new RxBuffers(maxQ);
    this.devices = [];
    try {
      for (const d of cfg.devices) {
        const wire = wires[d.name] ?? makeWire(d.wire, mem, d.wireStatsOffset, d.index);
        this.devices.push(new NetDevice(mem, d, cfg.memLo, wire, chain, rxBufs));
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** One pass over every device; returns the work done (0 = nothing to do). */
  pass(): number {
    const now = performance.now();
    const devs = this.devices;
    let work = 0;
    for (let i = 0; i < devs.length; i++) work += devs[i]!.poll(now);
    this.passes++;
    if (now >= this.nextTick) this.tick(now);
    return work;
  }

  /** Run passes until the stop word is set (the device thread's body). */
  run(): void {
    const i32 = this.i32;
    Atomics.store(i32, this.stateI, THREAD_RUNNING);
    let idle = 0;
    let sleepMs = MIN_SLEEP_MS;
    while (Atomics.load(i32, this.stopI) === 0) {
      if (this.pass() > 0) {
        idle = 0;
        sleepMs = MIN_SLEEP_MS;
        this.busy();
        continue;
      }
      if (this.busyPoll || ++idle <= this.spinPasses) continue;
      // Cheap when nothing changed: only queues whose state differs are written.
      this.setNotify(true);
      const bell = Atomics.load(i32, this.doorbellI);
      if (this.pass() > 0) {
        idle = 0;
        sleepMs = MIN_SLEEP_MS;
        this.busy();
        continue;
      }
      if (this.dirty) {
        this.dirty = false;
        for (const d of this.devices) d.wire.flush();
      }
      // Pairs with the drivers' Atomics.notify(doorbell) after a kick or a trap.
      Atomics.wait(i32, this.doorbellI, bell, sleepMs);
      this.sleeps++;
      sleepMs = sleepMs * 2 < this.maxSleepMs ? sleepMs * 2 : this.maxSleepMs;
    }
    this.tick(performance.now());
  }

  /** Flush and close every wire (cold; once). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    let first: unknown;
    for (const d of this.devices) {
      try {
        d.wire.flush();
        d.wire.close();
      } catch (e) {
        first ??= e;
      }
    }
    Atomics.store(this.i32, this.stateI, THREAD_STOPPED);
    if (first !== undefined) throw first;
  }

  /** Ask for (on) or suppress (off) kicks on every device. */
  setNotify(on: boolean): void {
    this.notifyOn = on;
    for (const d of this.devices) d.setNotify(on);
  }

  private busy(): void {
    this.dirty = true;
    if (this.notifyOn) this.setNotify(false);
  }

  private tick(now: number): void {
    this.nextTick = now + TICK_MS;
    for (const d of this.devices) d.tick();
    Atomics.store(this.i32, this.stateI + (CTL_PASSES - CTL_STATE) / 4, this.passes | 0);
    Atomics.store(this.i32, this.stateI + (CTL_SLEEPS - CTL_STATE) / 4, this.sleeps | 0);
  }
}
