/**
 * Entry of the device thread (compiled to dist/device-worker.js and started
 * by Vhost.start()). Builds the devices and wires from workerData, pins
 * itself, opens the wires that have sockets, reports "ready", then runs the
 * device loop until the stop word is set (runAsync when a wire needs the
 * event loop); flushes and closes the wires on the way out. Messages to the main
 * thread (all structured data, errors included):
 *   { type: "ready", pin }                   polling
 *   { type: "device-error", device, message, stack }  a device needs a reset after an exception
 *   { type: "fatal", message, code, stack }  the thread itself failed
 *   { type: "stopped" }                      clean exit
 */
import { parentPort, workerData } from "node:worker_threads";
import { Memory, type PinResult, pinCurrentThread, warnUnpinnedOnce } from "@tpdk/eal";
import type { LoopConfig } from "./config.js";
import { DeviceLoop } from "./device-loop.js";
import { CTL_STATE, DEV_STATS, THREAD_FAILED, THREAD_RUNNING } from "./layout.js";
import { S_TX_PACKETS } from "./stats.js";
import type { DeviceFault } from "./vhost.js";

interface WorkerInit extends LoopConfig {
  sab: SharedArrayBuffer;
  /** TEST ONLY: TPDK_FAULT_DEVICE, parsed by Vhost.start() (see vhost.ts). */
  fault: DeviceFault | null;
}

const init = workerData as WorkerInit;
const port = parentPort!;
const mem = Memory.attach(init.sab);

function describe(e: unknown): { message: string; code: string; stack: string } {
  const err = e instanceof Error ? e : new Error(String(e));
  return { message: err.message, code: (err as { code?: string }).code ?? "EDEVICE", stack: err.stack ?? "" };
}

let loop: DeviceLoop | undefined;
async function main(): Promise<void> {
  let pin: PinResult | null = null;
  if (init.cpu >= 0) {
    pin = pinCurrentThread(init.cpu);
    if (!pin.pinned) warnUnpinnedOnce(`vhost device thread not pinned to CPU ${init.cpu}: ${pin.reason}`, mem);
  }
  loop = new DeviceLoop(mem, init);
  for (const d of loop.devices) {
    d.onError = (dev, e) => port.postMessage({ type: "device-error", device: dev.cfg.name, ...describe(e) });
  }
  await loop.open();
  // Running from here on (run() stores it too): published before "ready" so the main thread sees it.
  Atomics.store(mem.i32, (init.ctlOffset + CTL_STATE) >>> 2, THREAD_RUNNING);
  port.postMessage({ type: "ready", pin });
  if (init.fault) injectFault(loop, init.fault);
  if (loop.usesEventLoop) await loop.runAsync();
  else loop.run();
  loop.close();
  port.postMessage({ type: "stopped" });
}

/**
 * TEST ONLY (TPDK_FAULT_DEVICE): once the trigger is reached, this loop's
 * pass() throws (crash) or blocks for good (hang), or a wire's consume()
 * throws (wire-error: the device's own exception path). The wrappers are own
 * properties of these instances, installed only when the variable is set:
 * production runs the classes' methods untouched.
 */
function injectFault(l: DeviceLoop, f: DeviceFault): void {
  const message = `injected fault (TPDK_FAULT_DEVICE=${f.action}-after-${f.unit}:${f.after})`;
  const f64 = mem.f64;
  const txSlots = init.devices.map((d) => (d.zoneOffset + DEV_STATS) / 8 + S_TX_PACKETS);
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

try {
  await main();
} catch (e) {
  try {
    loop?.close();
  } catch {
    // already failing: the first error is the one reported
  }
  Atomics.store(mem.i32, (init.ctlOffset + CTL_STATE) >>> 2, THREAD_FAILED);
  port.postMessage({ type: "fatal", ...describe(e) });
}
