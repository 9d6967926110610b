export { TpdkError, UsageError, isTpdkError } from "./errors.js";
export { Memory, align, type Zone, ZONE_MAX, MEMORY_MAX_BYTES, CONTROL_WORD_BASE, CONTROL_WORDS } from "./memory.js";
export { lcoreId, setLcoreId, MAX_LCORE, LCORE_ID_ANY } from "./lcore-id.js";
export {
  type EalOptions, EAL_DEFAULTS, EAL_USAGE, MEMORY_MB_MAX, dropRunnerSeparator, parseCoreList, parseEalArgs, resolveEalOptions,
} from "./args.js";
export {
  type Devargs, type IntOpts, parseDevargs, devargsName, takeInt, takeBool, takeString, takeMac, takeList, takeIntList,
  assertNoUnknownKeys,
} from "./devargs.js";
export { runMain, progName, describeError, EXIT_FAILURE, EXIT_USAGE, type RunMainOptions } from "./run-main.js";
export { Backoff, type BackoffOptions, BACKOFF_SPIN_PASSES, BACKOFF_MIN_WAIT_MS, BACKOFF_MAX_WAIT_MS } from "./backoff.js";
export {
  CTRL_STOP, CTRL_PIN_WARNED, CTRL_LAUNCHED, CTRL_LAUNCH_MASK_LO, CTRL_LAUNCH_MASK_HI, LCORE_ZONE, lcoreWakeIndex, lcoreIdleIndex, lcoreZoneOffset, launchedLcoreIdle, lcoresLaunched, stopRequested,
} from "./control.js";
export {
  type PinResult, pinCurrentThread, warnUnpinnedOnce, allowedCpus, currentTid, currentAffinity, expandCpuList,
} from "./pin.js";
export type { LcoreContext, LcoreInfo } from "./lcore.js";
export { Eal } from "./eal.js";
export { MEMFD_NAME, HUGEPAGE_BYTES, hugepageNotice } from "./shared-memory.js";
export { installSignalHandlers, type SignalHandler } from "./signals.js";
export { clockMs, storeClockMs, warmStoreClockMs } from "./clock.js";
