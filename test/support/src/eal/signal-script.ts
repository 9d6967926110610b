// Fixture for signals.test.ts: `node signal-script.js graceful|stuck`.
import { Eal } from "@tpdk/eal";
import { runMain } from "@tpdk/eal";

runMain(async () => {
  const mode = process.argv[2];
  const eal = Eal.init({ lcores: [0], memoryMb: 2, noPin: true });
  eal.mem.reserve("ids", 64 * 16);
  let signalled = 0;
  eal.onSignal((signo) => {
    signalled = signo;
    console.log(`Signal ${signo} received, preparing to exit...`);
    if (mode === "graceful") eal.stop();
  });
  await eal.launch(new URL("./lcore-fixture.js", import.meta.url) /* this script runs from dist/ */, "countUntilStopped", () => ({ zone: "ids" }));
  console.log("ready");
  // "stuck" never stops: only a second signal ends it.
  await eal.wait();
  await eal.close();
  console.log(`Bye... (handled ${signalled})`);
}, { prog: "sigtest" });
