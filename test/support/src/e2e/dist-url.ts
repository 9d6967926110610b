import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);

/**
 * The file URL of a workspace package's compiled entry (`@tpdk/eal`,
 * `@tpdk/l2fwd/lcore-loop`), through its exports map: for code that a
 * worker thread imports (workers are plain Node and load dist/).
 */
export function distUrl(specifier: string): string {
  return pathToFileURL(require.resolve(specifier)).href;
}
