/**
 * Fault injection for tests, the one place this package reads it: the
 * TPDK_FAULT_DEVICE environment variable is read by Vhost.start() through
 * deviceFaultFromEnv(), travels to the device thread in workerData, and
 * injectFault() arms it there. Production code paths never look at it.
 */
import { type Memory, TpdkError } from "@tpdk/eal";
import type { LoopConfig } from "./config.js";
import type { DeviceLoop } from "./device-loop.js";
import { DEV_STATS } from "./device/layout.js";
import { S_TX_PACKETS } from "./device/stats.js";

/**
 * TEST ONLY: the environment variable that makes the device thread fail on
 * purpose, so the drivers' and applications' fault paths can be exercised
 * end to end (test/faults-device-thread.test.ts). Read once, by start().
 *
 *   TPDK_FAULT_DEVICE=crash-after-ms:N         throw from the device loop N ms after "ready"
 *   TPDK_FAULT_DEVICE=crash-after-tx-frames:N  ... once the devices have taken N frames from
 *                                              their drivers' TX queues (all devices together)
 *   TPDK_FAULT_DEVICE=hang-after-ms:N          stop polling and block forever (asleep, no CPU)
 *   TPDK_FAULT_DEVICE=hang-after-tx-frames:N   ... the same, counted in transmitted frames
 *   TPDK_FAULT_DEVICE=wire-error-after-ms:N, wire-error-after-tx-frames:N
 *                                              the next frame a wire is handed throws:
 *                                              its device needs a reset, the thread lives on
 *
 * A crash goes the way of any exception in the thread: wires flushed and
 * closed, "fatal" posted, `failed` rejects. A hang stops the heartbeat and
 * answers no trap: only a watchdog notices, and only terminate() ends it.
 * A wire error takes the device's own path: errInternal, DEVICE_NEEDS_RESET,
 * a "device-error" message, `failed` rejects naming the device.
 * "tx-frames" triggers strike while the application is sending, whatever the
 * machine's load (a "ms" trigger may strike before its lcores even start).
 * Unset or empty: no fault. Anything else: start() throws EINVAL.
 */
export const DEVICE_FAULT_ENV = "TPDK_FAULT_DEVICE";

/** A parsed TPDK_FAULT_DEVICE (travels to the device thread in workerData). */
export interface DeviceFault {
  readonly action: "crash" | "hang" | "wire-error";
  readonly unit: "ms" | "tx-frames";
  readonly after: number;
}

/** The fault asked for in this process's environment (Vhost.start(), main thread). */
export function deviceFaultFromEnv(): DeviceFault | null {
  return parseDeviceFault(process.env[DEVICE_FAULT_ENV]);
}

/** Parse TPDK_FAULT_DEVICE's value; null when unset or empty. */
export function parseDeviceFault(v: string | undefined): DeviceFault | null {
  if (v === undefined || v === "") return null;
  const m = /^(crash|hang|wire-error)-after-(ms|tx-frames):(\d{1,9})$/.exec(v);
  if (!m) {
    throw new TpdkError(
      "EINVAL",
      `vhost: ${DEVICE_FAULT_ENV}=${v} is not a fault; use crash-, hang- or wire-error-after-ms:N or -after-tx-frames:N (N a whole number; test only), or unset it`,
    );
  }
  return { action: m[1] as DeviceFault["action"], unit: m[2] as DeviceFault["unit"], after: Number(m[3]) };
}

/**
 * TEST ONLY (TPDK_FAULT_DEVICE): once the trigger is reached, this loop's
 * pass() throws (crash) or blocks for good (hang), or a wire's consume()
 * throws (wire-error: the device's own exception path). The wrappers are own
 * properties of these instances, installed only when the variable is set:
 * production runs the classes' methods untouched.
 */
export function injectFault(mem: Memory, cfg: LoopConfig, l: DeviceLoop, f: DeviceFault): void {
  const message = `injected fault (TPDK_FAULT_DEVICE=${f.action}-after-${f.unit}:${f.after})`;
  const f64 = mem.f64;
  const txSlots = cfg.devices.map((d) => (d.zoneOffset + DEV_STATS) / 8 + S_TX_PACKETS);
  const t0 = Date.now();
  const due = (): boolean => {
    if (f.unit === "ms") return Date.now() - t0 >= f.after;
    let tx = 0;
    for (const i of txSlots) tx += f64[i]!;
    return tx >= f.after;
  };
  if (f.action === "wire-error") {
    // The first wire handed a frame after the trigger throws; its device counts
    // errInternal, needs a reset and reports "device-error"; the thread lives on.
    for (const d of l.devices) {
      const wire = d.wire;
      const consume = wire.consume.bind(wire);
      wire.consume = (u8, addr, len): void => {
        if (due()) throw new Error(message);
        consume(u8, addr, len);
      };
      const consumeRun = wire.consumeRun?.bind(wire);
      if (consumeRun !== undefined) {
        wire.consumeRun = (u8, addrs, lens, n): void => {
          if (due()) throw new Error(message);
          consumeRun(u8, addrs, lens, n);
        };
      }
    }
    return;
  }
  const pass = l.pass.bind(l);
  l.pass = (): number => {
    if (due()) {
      if (f.action === "crash") throw new Error(message);
      // A hang that sleeps: no heartbeat, no traps answered, no CPU burnt.
      // terminate() ends it (it interrupts the wait, or the next loop turn).
      const cell = new Int32Array(new SharedArrayBuffer(4));
      for (;;) Atomics.wait(cell, 0, 0, 50);
    }
    return pass();
  };
}

