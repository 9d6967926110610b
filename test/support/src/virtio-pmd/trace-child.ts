import { deoptsOf } from "../child.js";

/**
 * The driver's child-process checks (@tpdk/testing/child runs the script): scripts import the built rigs
 * through these URLs (the test command builds first; the same from src/ under vitest and from dist/).
 */
export const RIG_URL = new URL("../../dist/virtio-pmd/index.js", import.meta.url).href;
export const VHOST_RIG_URL = new URL("../../dist/vhost/index.js", import.meta.url).href;

/** The driver's data-path functions (frame-steps.ts and the queues' burst and reclaim methods). */
export const DATA_PATH = /<JSFunction (rxBurst|rxSmall|rxInOrder|takeAhead|rxGeneral|touchAhead|txBurst|reclaim|reclaimInOrder|sizeBinOf|sizeRun4?|sizeRunEnd|countFrame|castQuad)\b/;

/** --trace-deopt: the lines deoptimizing a data-path function. */
export function dataPathDeopts(out: string): string[] {
  return deoptsOf(out, DATA_PATH);
}
