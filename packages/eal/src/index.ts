export { TpdkError, UsageError, isTpdkError } from "./errors.js";
export { Memory, align, type Zone, ZONE_MAX, MEMORY_MAX_BYTES, CONTROL_WORD_BASE, CONTROL_WORDS } from "./memory.js";
export { lcoreId, setLcoreId, MAX_LCORE, LCORE_ID_ANY } from "./lcore-id.js";
export {
  type EalOptions, EAL_DEFAULTS, EAL_USAGE, MEMORY_MB_MAX, parseCoreList, parseEalArgs, resolveEalOptions,
} from "./args.js";
export {
  type Devargs, type IntOpts, parseDevargs, devargsName, takeInt, takeBool, takeString, takeMac, takeList, takeIntList,
  assertNoUnknownKeys,
} from "./devargs.js";
export { runMain, progName, describeError, EXIT_FAILURE, EXIT_USAGE, type RunMainOptions } from "./run-main.js";
