export { TpdkError, UsageError, isTpdkError } from "./errors.js";
export { Memory, align, type Zone, ZONE_MAX, MEMORY_MAX_BYTES, CONTROL_WORD_BASE, CONTROL_WORDS } from "./memory.js";
export { lcoreId, setLcoreId, MAX_LCORE, LCORE_ID_ANY } from "./lcore-id.js";
