/** Driver-side helpers for tests of the device (hand-built rings, register traps). Not for production drivers. */
export { DriverRing, Arena, writeDesc, writeDescTable } from "./driver-ring.js";
export { TrapClient } from "./trap-client.js";
export { deviceFixture, frame, type Fixture, type FixtureOptions } from "./fixture.js";
export { sendCtrl, postCtrl, type CtrlResult } from "./ctrl.js";
export { wireSpec, usageErrorOf } from "./wire-spec.js";
export { PACED_LATENCY_LOOP_PREAMBLE } from "./paced-latency-loop.js";
export {
  TestWire, TEST_WIRE_TYPE, type TestWireSpec, type TestWireRecord, testWireSpec, readTestWire, releaseTestWire,
} from "./test-wire.js";
