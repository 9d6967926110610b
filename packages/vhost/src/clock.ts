/**
 * The device thread's clock: milliseconds on performance.now()'s scale
 * (eal's clockMs), written by DeviceLoop at the start of a pass and read by
 * the wires that need the time (pacing, timestamps, latency, pcap record
 * times) as `deviceClock[0]`.
 *
 * A typed-array cell rather than a `now` argument: V8 boxes a double (a heap
 * allocation) whenever it is passed to, or returned from, a call it does not
 * inline, and a pass makes several such calls per device. Read into a local,
 * the cell costs one load and allocates nothing. One cell per thread (module
 * state is per thread); tests that drive time set it before calling a wire.
 */
export const deviceClock = new Float64Array(1);
