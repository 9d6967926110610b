/** Test support for @tpdk/eal: the lcore fixture and scripts run in workers or child processes (always the compiled files). */
export { pingPong, type PingPongResult } from "./pingpong.js";
export { thrownCode, typedErrorOf, usageErrorMessage } from "./typed-error.js";
export type { CountResult } from "./lcore-fixture.js";

// The compiled modules, by URL: the same relative path from src/eal and dist/eal.
/** Lcore entry functions for eal.launch (countUntilStopped, failOnLcore1, echo, zonesSeen). */
export const LCORE_FIXTURE_URL = new URL("../../dist/eal/lcore-fixture.js", import.meta.url);
/** A script whose main throws what argv[2] names (run-main tests). */
export const RUN_MAIN_SCRIPT_URL = new URL("../../dist/eal/run-main-script.js", import.meta.url);
/** A script that launches lcores and waits for a signal (signal tests). */
export const SIGNAL_SCRIPT_URL = new URL("../../dist/eal/signal-script.js", import.meta.url);
