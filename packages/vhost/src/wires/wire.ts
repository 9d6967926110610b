/**
 * A wire is what a device is attached to: it supplies the frames the device
 * receives (device -> driver, the RX direction) and takes the frames the
 * driver transmits (driver -> device, the TX direction).
 *
 * A wire has two halves:
 *  - a spec, parsed and validated on the main thread from the vdev's keys
 *    (`wire=gen,size=64,...`) before anything starts; structured-cloneable so
 *    it can be handed to the device thread;
 *  - the live Wire, built from the spec on the device thread and driven by the
 *    device loop. Everything below runs on the hot path: no allocation.
 *
 * Counters live in a per-wire stats block in shared memory (Float64 slots,
 * written by the device thread only) so the main thread can read them while
 * traffic flows.
 *
 * Accounting (DEVELOPERS.md): generated = received + missed, where "missed"
 * are frames the device dropped because the driver had posted no buffer.
 * The device calls exactly one of produce() or drop() for every frame
 * ready() announced, so the wire can count both.
 */
export interface Wire {
  readonly kind: string;

  /**
   * A lossless wire's frames wait for RX buffers instead of being missed:
   * the device takes only as many as the driver has posted room for. File
   * replay (pcap) is lossless, as DPDK's net_pcap reads the file only as fast
   * as the application polls; a generator is a line-rate source and is not.
   */
  readonly lossless: boolean;

  /**
   * Optional, true for a source with no arrival times (a file: wire=pcap's
   * rx_pcap): the device produces its frames only as fast as the application
   * sends frames back out, at most a transmit ring's worth out at a time
   * (demand.ts), so that replaying a file through a forwarding application
   * cannot overrun a transmit ring. Absent or false: the wire's frames are due
   * when ready() says (a generator, a cable, a socket).
   */
  readonly onDemand?: boolean;

  /**
   * True when the wire reads the time (deviceClock[0], clock.ts: pacing,
   * timestamps, latency, pcap record times). The device then reads the clock
   * every pass; otherwise only every few hundred microseconds, because a
   * clock read costs a fifth of a busy pass.
   */
  readonly needsClock: boolean;

  /**
   * How many frames are due now (0 = none); "now" is deviceClock[0], the
   * device loop's clock reading for this pass (ms on performance.now()'s scale).
   * The device may take fewer; the rest stay due.
   */
  ready(): number;

  /** Length in bytes of the next due frame (valid after ready() > 0). */
  frameLength(): number;

  /**
   * Optional: copy leading bytes of the next due frame to u8[addr ..)
   * WITHOUT taking it, and return how many: at most min(max, frameLength()),
   * and at least the Ethernet, IPv4 and UDP-port headers when the frame has
   * them (42 bytes without IP options) or the whole frame. With several
   * RX queues in use the device steers each frame by its flow before it
   * takes buffers (rx-steer.ts); a wire without peek is steered round-robin.
   * The device has checked that the range lies inside shared memory. Hot
   * path: no allocation.
   */
  peek?(u8: Uint8Array, addr: number, max: number): number;

  /**
   * Write the next due frame at u8[addr .. addr + frameLength()) and advance.
   * The device has checked that the range lies inside shared memory.
   */
  produce(u8: Uint8Array, addr: number): void;
  /**
   * Optional: produce() for a run of buffers, frame j at addrs[j] + hdr while
   * it is at most maxFrame bytes and hdr + its length fits lens[j], which then
   * becomes that total; returns the frames written (the device's RX fast run
   * makes one call where it would make two per frame).
   */
  produceRun?(u8: Uint8Array, addrs: Uint32Array, lens: Uint32Array, n: number, hdr: number, maxFrame: number): number;

  /** The device could not place the next due frame (no buffer posted): count it missed and advance. */
  drop(): void;

  /**
   * A frame the driver transmitted, contiguous at u8[addr .. addr + len).
   * The wire copies what it keeps: the bytes are the driver's again once this returns.
   */
  consume(u8: Uint8Array, addr: number, len: number): void;
  /**
   * Optional: consume() for a run of frames, frame j at u8[addrs[j] ..
   * addrs[j] + lens[j]), j < n, counted and checked exactly as n calls of
   * consume() in that order would (the device's TX fast run makes one call
   * where it would make one per frame).
   */
  consumeRun?(u8: Uint8Array, addrs: Uint32Array, lens: Uint32Array, n: number): void;

  /** True once a finite input has been wholly produced or dropped (never true for unlimited wires). */
  exhausted(): boolean;

  /** Push buffered output (pcap) to its destination. Cold path: called when idle and at stop. */
  flush(): void;

  /** Flush and release (files, sockets). Cold path. */
  close(): void;

  /**
   * Present on wires that do their I/O through Node's event loop (udp): the
   * device thread then opens them before it reports ready and lets its event
   * loop turn between passes (DeviceLoop.runAsync). Absent on the others.
   */
  readonly eventLoop?: WireEventLoop;
}

/**
 * The event-loop side of a wire (sockets). Callbacks run on the device thread
 * whenever the loop yields or sleeps; they only queue frames and count, so
 * ready()/produce()/consume() never wait for them.
 */
export interface WireEventLoop {
  /** Bind sockets (cold). The device thread awaits it before "ready"; a rejection fails Vhost.start(). */
  open(): Promise<void>;
  /**
   * Callbacks handled so far (datagrams read, sends completed), monotonic:
   * while it grows the device loop yields to the event loop more often.
   */
  events(): number;
  /**
   * `wake` is called by the wire after a callback queued frames, so a device
   * loop sleeping on its doorbell wakes at once instead of at its timeout.
   */
  setWake(wake: () => void): void;
}
