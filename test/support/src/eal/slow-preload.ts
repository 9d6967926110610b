// Fixture for run-main.test.ts: an lcore preload that takes 300 ms to load, then writes the file
// named by TPDK_TEST_LOADED_MARK (the worker inherits the environment).
import { writeFileSync } from "node:fs";

await new Promise((r) => setTimeout(r, 300));
if (process.env.TPDK_TEST_LOADED_MARK) writeFileSync(process.env.TPDK_TEST_LOADED_MARK, "loaded\n");
