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
import { type DeviceFault, injectFault } from "./faults.js";
import { CTL_STATE, THREAD_FAILED, THREAD_RUNNING } from "./device/layout.js";
import { loadWireKinds } from "./wires/wire-registry.js";

interface WorkerInit extends LoopConfig {
  sab: SharedArrayBuffer;
  /** TEST ONLY: TPDK_FAULT_DEVICE, parsed by Vhost.start() (see faults.ts). */
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
  await loadWireKinds(init.devices.map((d) => d.wire));
  loop = new DeviceLoop(mem, init);
  for (const d of loop.devices) {
    d.onError = (dev, e) => port.postMessage({ type: "device-error", device: dev.cfg.name, ...describe(e) });
  }
  await loop.open();
  // Running from here on (run() stores it too): published before "ready" so the main thread sees it.
  Atomics.store(mem.i32, (init.ctlOffset + CTL_STATE) >>> 2, THREAD_RUNNING);
  port.postMessage({ type: "ready", pin });
  if (init.fault) injectFault(mem, init, loop, init.fault);
  if (loop.usesEventLoop) await loop.runAsync();
  else loop.run();
  loop.close();
  port.postMessage({ type: "stopped" });
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
