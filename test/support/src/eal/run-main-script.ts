// Fixture for run-main.test.ts: `node run-main-script.js <usage|tpdk|plain|ok|code|loading>`.
import { Eal, TpdkError, UsageError } from "@tpdk/eal";
import { runMain } from "@tpdk/eal";

runMain(async () => {
  const what = process.argv[2];
  await new Promise((r) => setTimeout(r, 1));
  if (what === "usage") throw new UsageError('-l: "0-x" is not a core list; use e.g. -l 0 or -l 0-1');
  if (what === "tpdk") throw new TpdkError("ENOMEM", "out of mbufs");
  if (what === "plain") throw new Error("kaboom");
  if (what === "code") return 3;
  if (what === "loading") {
    // An lcore thread still loading its (slow) preload when main fails.
    Eal.init({ lcores: [0], memoryMb: 2, noPin: true }, { preload: [new URL("./slow-preload.js", import.meta.url)] });
    throw new TpdkError("EINVAL", "refused while the lcores load");
  }
  process.stdout.write("ok\n");
});
