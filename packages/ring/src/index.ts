export { Ring } from "./ring.js";
export {
  type RingOptions,
  ringFlags,
  RING_F_SP_ENQ,
  RING_F_SC_DEQ,
  RING_F_EXACT_SZ,
  RING_ALIGN,
  RING_SIZE_MAX,
} from "./layout.js";
