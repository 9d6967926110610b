import { clockMs, storeClockMs, warmStoreClockMs, type Memory } from "@tpdk/eal";
import type { LoopConfig } from "./config.js";
import { CTL_DOORBELL, CTL_PASSES, CTL_SLEEPS, CTL_STATE, CTL_STOP, THREAD_RUNNING, THREAD_STOPPED } from "./device/layout.js";
import { NetDevice } from "./device/net-device.js";
import { deviceClock } from "./clock.js";
import { DemandWindow } from "./device/demand.js";
import { RxBuffers } from "./device/rx-buffers.js";
import { Chain } from "./device/virtqueue.js";
import type { Wire, WireEventLoop } from "./wires/wire.js";
import { makeWire } from "./wires/wire-registry.js";
import { connectLoopWires } from "./wires/wire-loop.js";

/** First sleep on the doorbell, ms. */
const MIN_SLEEP_MS = 0.02;
/** Housekeeping period (heartbeat, kicks, link, exhausted flag), ms. */
const TICK_MS = 1;
/** runAsync: passes between event-loop turns while the sockets are quiet, µs (a small integer: see nextYield). */
const YIELD_IDLE_US = 1000;
/** runAsync: the same while the last turn handled callbacks (datagrams, send completions), µs. */
const YIELD_BUSY_US = 50;

/** Atomics.waitAsync (Node >= 16; ES2024, newer than this project's lib setting). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

/** What spin() stopped for. */
const STOPPED = 0;
const YIELD = 1;
const SLEEP = 2;
/** spinSome() ran its SPIN_CHUNK passes: spin() calls it again. */
const MORE = 3;
/**
 * Passes per spinSome() call. The busy loop is a loop of calls rather than one
 * endless loop: V8 compiles an endless loop on-stack-replaced (OSR), and in
 * that code the array of process.hrtime() (clockMs) was not optimised away,
 * so a thread reading the clock every pass (paced generator, timestamps,
 * latency) allocated on every pass: 40-95 scavenges in a 3 s window. Called
 * every few hundred µs, spinSome gets ordinary optimised code: none.
 */
const SPIN_CHUNK = 1024;

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
 *
 * Wires with sockets (udp) need the thread's event loop to turn: then the
 * thread runs runAsync() instead, which is the same loop, but every
 * YIELD_IDLE_MS of passes (YIELD_BUSY_MS while the sockets are busy) it
 * yields to the event loop with setImmediate (about 2 µs when nothing is
 * pending), and it sleeps with Atomics.waitAsync so socket callbacks run
 * during the sleep and wake it. Devices on other wires lose only those
 * yields: the clock is read once per pass anyway.
 */
export class DeviceLoop {
  readonly devices: NetDevice[];
  /** Back-pressure from the transmit rings to on-demand sources (pcap replay), thread-wide. */
  readonly demand = new DemandWindow();
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
  /** Idle policy state shared by run() and runAsync(). */
  private idle = 0;
  private sleepMs = MIN_SLEEP_MS;
  /** Doorbell snapshot taken before the re-check pass that precedes a sleep. */
  private bell = 0;
  /** Some wire needs the clock every pass (see Wire.needsClock), or the event loop is paced by it. */
  private clockEveryPass = false;
  /** Work (passes + frames) left before the next clock read when no wire needs it every pass. */
  private clockBudget = 0;
  /** The event-loop sides of the wires that have one (udp). */
  private readonly io: WireEventLoop[] = [];
  /** runAsync: the pass clock's reading after the last event-loop turn (a cell: see nextYield). */
  private readonly turnAt = new Float64Array(1);
  /** runAsync: µs of passes from turnAt to the next turn (YIELD_IDLE_US or YIELD_BUSY_US). */
  private yieldUs = YIELD_IDLE_US;
  private ioEvents = 0;
  private sleeping = false;

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
    this.demand.bindLcores(mem);
    this.devices = [];
    try {
      for (const d of cfg.devices) {
        const wire = wires[d.name] ?? makeWire(d.wire, mem, d.wireStatsOffset, d.index);
        const dev = new NetDevice(mem, d, cfg.memLo, wire, chain, rxBufs, this.demand);
        dev.rxAfterLaunch = cfg.rxAfterLaunch === true;
        this.devices.push(dev);
      }
      connectLoopWires(
        this.devices.map((d) => d.wire),
        cfg.devices.map((d) => d.name),
      );
      const wake = (): void => {
        // Pairs with the Atomics.waitAsync on the doorbell in runAsync(): a callback queued frames.
        if (this.sleeping) Atomics.notify(this.i32, this.doorbellI);
      };
      this.clockEveryPass = this.devices.some((d) => d.wire.needsClock || d.wire.eventLoop !== undefined);
      for (const d of this.devices) {
        const io = d.wire.eventLoop;
        if (io !== undefined) {
          io.setWake(wake);
          this.io.push(io);
        }
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** True when some wire needs the event loop: the thread must use runAsync(), not run(). */
  get usesEventLoop(): boolean {
    return this.io.length > 0;
  }

  /**
   * Cold, before the first pass: warm the clock read (see readClock) and open the wires that have
   * an event-loop side (bind sockets). The device thread calls this before it reports ready.
   */
  async open(): Promise<void> {
    // False only where V8 cannot optimize it (--jitless, --no-opt): nothing more to do then.
    warmStoreClockMs(deviceClock);
    await Promise.all(this.io.map((io) => io.open()));
  }

  /** One pass over every device; returns the work done (0 = nothing to do). */
  pass(): number {
    // A clock read costs ~35 ns, a fifth of a busy pass, so unless a wire
    // needs the time every pass, read it once per CLOCK_BUDGET
    // passes-plus-frames: every few hundred µs, idle or busy, often enough
    // for the tick (heartbeat, housekeeping), which readClock() runs when
    // due (the time moves only there). The wires read the reading from
    // deviceClock rather than from an argument (see clock.ts).
    if (this.clockEveryPass || this.clockBudget <= 0) this.readClock();
    const devs = this.devices;
    let work = 0;
    for (let i = 0; i < devs.length; i++) work += devs[i]!.poll();
    // Modulo 2^30: a count that stays a small integer. A busy loop passes
    // 2^31 within hours; an overflowing counter deopts the pass and then
    // boxes (allocates) the count on every pass.
    this.passes = (this.passes + 1) & 0x3fffffff;
    this.clockBudget -= 1 + work;
    return work;
  }

  /** Run passes until the stop word is set (the device thread's body when no wire needs the event loop). */
  run(): void {
    const i32 = this.i32;
    Atomics.store(i32, this.stateI, THREAD_RUNNING);
    while (this.spin(false) === SLEEP) {
      // Pairs with the drivers' Atomics.notify(doorbell) after a kick or a trap.
      Atomics.wait(i32, this.doorbellI, this.bell, this.sleepMs);
      this.slept();
    }
    deviceClock[0] = clockMs();
    this.tick();
  }

  /**
   * run() for threads with event-loop wires (udp): the same passes and idle
   * policy, but the event loop turns every YIELD_IDLE_MS (YIELD_BUSY_MS
   * while callbacks keep coming) and sleeps let it run. Resolves when the
   * stop word is set.
   */
  async runAsync(): Promise<void> {
    const i32 = this.i32;
    Atomics.store(i32, this.stateI, THREAD_RUNNING);
    // A waitAsync timeout does not keep the event loop alive by itself.
    const keepAlive = setInterval(noop, 1 << 30);
    try {
      this.nextYield();
      for (;;) {
        const r = this.spin(true);
        if (r === STOPPED) break;
        if (r === YIELD) {
          await turnEventLoop();
        } else {
          this.sleeping = true;
          // Pairs with the drivers' Atomics.notify(doorbell) and with wake() from socket callbacks.
          const w = waitAsync(i32, this.doorbellI, this.bell, this.sleepMs);
          if (w.async) await w.value;
          this.sleeping = false;
          this.slept();
        }
        this.nextYield();
      }
    } finally {
      clearInterval(keepAlive);
    }
    deviceClock[0] = clockMs();
    this.tick();
  }

  /**
   * Passes until the stop word is set (STOPPED), the event loop is due a turn
   * (YIELD, only when `evented`), or every device has been idle for
   * spinPasses passes and one more pass after asking for kicks found nothing
   * (SLEEP: sleep on the doorbell, expecting this.bell, for this.sleepMs).
   */
  private spin(evented: boolean): number {
    for (;;) {
      // The clock read between chunks, not inside spinSome (see readClock).
      if (this.clockBudget <= 0) this.readClock();
      const r = this.spinSome(evented);
      if (r !== MORE) return r;
    }
  }

  /** At most SPIN_CHUNK iterations of spin()'s loop (see SPIN_CHUNK); MORE when they ran out. */
  private spinSome(evented: boolean): number {
    const i32 = this.i32;
    for (let k = 0; k < SPIN_CHUNK; k++) {
      // The clock is due: back to spin(), which reads it (pass() would too, inside this loop's code).
      if (this.clockBudget <= 0 && !this.clockEveryPass) return MORE;
      if (Atomics.load(i32, this.stopI) !== 0) return STOPPED;
      if (this.pass() > 0) {
        this.resetIdle();
      } else if (!this.busyPoll && ++this.idle > this.spinPasses) {
        // Cheap when nothing changed: only queues whose state differs are written.
        this.setNotify(true);
        this.bell = Atomics.load(i32, this.doorbellI);
        if (this.pass() > 0) {
          this.resetIdle();
        } else {
          if (this.dirty) {
            this.dirty = false;
            for (const d of this.devices) d.wire.flush();
          }
          return SLEEP;
        }
      }
      // The subtraction is here, in code optimized early, not in nextYield(): see nextYield().
      if (evented && (deviceClock[0]! - this.turnAt[0]!) * 1000 >= this.yieldUs) return YIELD;
    }
    return MORE;
  }

  /**
   * The pass clock (clock.ts): one reading for every wire until the next,
   * and the tick when it is due. Unless a wire needs the time every pass,
   * spin() calls this between spinSome() chunks, when the budget is used up,
   * rather than pass() inside the busy loop: clockMs() allocates nothing
   * only where V8 inlines process.hrtime() with it (its array is then
   * optimised away), and in the busy loop's optimised code, full of inlined
   * device code, the inlining budget was spent before hrtime(): the cold read
   * stayed a call returning a fresh array (every few hundred µs: a device
   * scavenge every 7-10 s in unpaced runs; heap sampling put them on
   * process.hrtime under spinSome). Called from spin(), it is optimised on
   * its own, hrtime() inlined. When a wire needs the clock every pass, the
   * read in pass() is hot, and the compile that inlines pass() spends its
   * inlining budget on the devices' polls first: clockMs() was then left out
   * of line and returned its double boxed, 16 B a pass (the latency runs'
   * 10-18 MB/s of device garbage, bench/notes/gc.md "Session 24: GC"). Hence
   * storeClockMs(): never inlined, it returns nothing and allocates nothing
   * (device-clock-alloc.test.ts), and the reading is loaded from the cell.
   * Never inlined, it is optimized only after ~16,000-22,000 calls, seconds into a throughput run
   * (a read every ~0.2-0.5 ms), and until then its baseline code boxed clockMs()'s reading, 16 B a
   * read, 40-90 KB/s through the window: so open() warms it first (warmStoreClockMs;
   * bench/notes/gc.md "Session 25: GC").
   */
  private readClock(): void {
    storeClockMs(deviceClock);
    const now = deviceClock[0]!;
    this.clockBudget = CLOCK_BUDGET;
    if (now >= this.nextTick) {
      // The next tick's time is added here, where `now` is a local of code optimized early (inlined
      // in pass() when a wire needs the clock every pass), not in tick(): see tick().
      this.nextTick = now + TICK_MS;
      this.tick();
    }
  }

  private resetIdle(): void {
    this.idle = 0;
    this.sleepMs = MIN_SLEEP_MS;
    this.busy();
  }

  private slept(): void {
    this.sleeps = (this.sleeps + 1) & 0x3fffffff;
    this.clockBudget = 0; // time went by while asleep: read the clock on the next pass

    this.sleepMs = this.sleepMs * 2 < this.maxSleepMs ? this.sleepMs * 2 : this.maxSleepMs;
  }

  /**
   * After an event-loop turn (or a sleep): the next turn soon if callbacks ran since the last.
   * Called once per turn (1-20 k a second) from runAsync(), an async function called once and so
   * never optimized, nextYield() runs unoptimized for seconds to minutes, where every double read
   * from a cell or a field, computed, passed or returned is a new HeapNumber (16 B). So no double
   * is made here: storeClockMs() (warmed by open(), optimized; it returns nothing) writes the
   * reading into the cell, TypedArray.prototype.set (a builtin) copies it to turnAt, the period
   * is a small integer, and spinSome() (optimized early) does the arithmetic. Not readClock():
   * inlined into pass(), its own copy is optimized only by these calls, and its `now` is a
   * HeapNumber until then. Before session 26 this was `nextYield(clockMs())` computing `now +
   * period` here: 16 B for clockMs()'s boxed return and 16 B for the sum, per turn
   * (device-turn-clock.test.ts; bench/notes/gc.md "Session 26: GC").
   */
  private nextYield(): void {
    let events = 0;
    for (let i = 0; i < this.io.length; i++) events += this.io[i]!.events();
    storeClockMs(deviceClock);
    this.turnAt.set(deviceClock);
    this.yieldUs = events !== this.ioEvents ? YIELD_BUSY_US : YIELD_IDLE_US;
    this.ioEvents = events;
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
    const devs = this.devices;
    for (let i = 0; i < devs.length; i++) devs[i]!.setNotify(on);
  }

  private busy(): void {
    this.dirty = true;
    if (this.notifyOn) this.setNotify(false);
  }

  /**
   * Housekeeping, about once per ms (at the time in deviceClock: no double argument to box).
   * Called 1000 times a second, tick() is optimized only 1.5-2 s after the thread starts and
   * runs in baseline code until then, where a Float64Array read or a double field load makes a
   * HeapNumber: so the common path reads no double (readClock() sets nextTick; the generator's
   * exhausted() is a boolean field). The device thread's young space then gets no tail from the
   * start-up into the measurement window (bench/notes/gc.md "Session 24: GC": `deviceClock[0] +
   * TICK_MS` here was 32 B per tick, ~2-15 KB in a latency run's window).
   */
  private tick(): void {
    // Indexed, not for..of: an iterator object per tick (1000 a second) is garbage.
    const devs = this.devices;
    for (let i = 0; i < devs.length; i++) devs[i]!.tick();
    if (this.demand.used) this.demand.tick(devs, deviceClock[0]!, devs[0]!.burst);
    Atomics.store(this.i32, this.stateI + (CTL_PASSES - CTL_STATE) / 4, this.passes | 0);
    Atomics.store(this.i32, this.stateI + (CTL_SLEEPS - CTL_STATE) / 4, this.sleeps | 0);
  }
}

/** Passes plus frames between clock reads when no wire needs the clock: ~0.5 ms idle (~150 ns a pass) or busy. */
const CLOCK_BUDGET = 4096;

function noop(): void {}

/** Let the event loop run once (I/O callbacks included): resolves from the check phase. */
function turnEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
