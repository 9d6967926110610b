import os from "node:os";
import { progName } from "./run-main.js";

export type SignalHandler = (signo: number) => void;

const HANDLED = ["SIGINT", "SIGTERM"] as const;

/**
 * SIGINT/SIGTERM: the first one calls `handler(signo)` (2 or 15) so the app
 * can stop its lcores and clean up; any later one means "stop now": print one
 * line and exit 128+signo (130, 143) without waiting. Returns a function that
 * removes the handlers.
 */
export function installSignalHandlers(handler: SignalHandler): () => void {
  let received = false;
  const listeners = HANDLED.map((name) => {
    const signo = os.constants.signals[name];
    const listener = () => {
      if (received) {
        process.stderr.write(`${progName()}: signal ${signo} received while stopping, exiting now\n`);
        process.exit(128 + signo);
      }
      received = true;
      handler(signo);
    };
    process.on(name, listener);
    return [name, listener] as const;
  });
  return () => {
    for (const [name, listener] of listeners) process.off(name, listener);
  };
}
