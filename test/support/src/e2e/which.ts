import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** The path of executable `cmd` on PATH, or null (a peer test's first check: skip with a reason). */
export function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return join(dir, cmd);
    } catch {
      // not here
    }
  }
  return null;
}
