export { Ring } from "./ring.js";
export {
  type RingOptions,
  ringFlags,
  RING_F_SP_ENQ,
  RING_F_SC_DEQ,
  RING_F_EXACT_SZ,
  RING_ALIGN,
  RING_SIZE_MAX,
  // The index words' offsets (README, "Memory layout"): diagnostics and tests that start the indices near the 2^32 wrap.
  PROD_HEAD,
  PROD_TAIL,
  CONS_HEAD,
  CONS_TAIL,
} from "./layout.js";
