/**
 * Wakes the main thread when a data-path kick is published through the
 * doorbell, instead of polling for it. Since the lcores write the kick
 * eventfds themselves (virtio-pmd QueueBase.kick with the addon's
 * eventfdKick: the transport's kick-fd words), this is the fallback for a
 * thread that has no addon (or one without eventfdKick): its kick path adds
 * to the queue's notify word, then adds to the transport's doorbell word and
 * Atomics.notify()s it. This waits on that doorbell with Atomics.waitAsync
 * (no thread blocks: the promise settles on the event loop), calls `forward`
 * (which compares the notify words and writes the kick eventfds), and waits
 * again.
 *
 * Why not the main path any more: kicks are not rare. Split rings with
 * EVENT_IDX: DPDK's vhost, asked by its net_vhost PMD for no notifications
 * (rte_vhost_enable_guest_notification(vid, q, 0) in drivers/net/vhost
 * new_device), writes nothing then (lib/vhost/vhost.c
 * vhost_enable_notify_split only writes avail_event, = last_avail_idx, when
 * enabling; VRING_USED_F_NO_NOTIFY is its non-EVENT_IDX way), so avail_event
 * stays where it started and the driver must kick each time avail.idx passes
 * it (virtio 1.2 §2.7.10): once every 2^16 entries per ring, ~430/s at
 * 14 Mpps forwarded. Each wake here allocates a promise (waitAsync): steady
 * main-thread scavenges in the bench windows (session 8). Packed rings get
 * VRING_EVENT_F_DISABLE (vhost_enable_notify_packed) and are not kicked.
 *
 * Why not a timer: a 1 ms setInterval woke the main thread ~1000 times a
 * second whether or not anything kicked, preempting the lcore that shares its
 * CPU; a wait costs nothing until a kick comes, and a kick is forwarded as
 * soon as the event loop runs instead of up to 1 ms later.
 *
 * No kick is lost: the doorbell is read before the notify words are
 * compared, so a kick published after the read leaves the doorbell changed
 * and the wait returns at once ("not-equal"), and `forward` runs again.
 *
 * stop(): the pending wait cannot be cancelled (ES2024 Atomics.waitAsync),
 * so it is made harmless: the generation moves on (a settled wait of an old
 * generation does nothing, even if a later start() reused the word) and the
 * doorbell is notified so the wait settles now rather than lingering until
 * some later kick. A pending wait without a timeout does not keep Node's
 * event loop alive (as the unref'd timer did not).
 */

type WaitAsyncResult = { async: false; value: "not-equal" | "timed-out" } | { async: true; value: Promise<string> };
/** Atomics.waitAsync (Node >= 16; ES2024, newer than this project's lib setting). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, index: number, value: number): WaitAsyncResult }).waitAsync;

/**
 * Times `forward` runs back to back while the doorbell keeps moving under it
 * (kicks arriving while it runs) before the event loop gets a turn
 * (setImmediate): a driver that kicks without pause cannot hold the main
 * thread.
 */
const ROUNDS_PER_TURN = 4;

export class KickForwarder {
  private readonly i32: Int32Array;
  private readonly doorbellI: number;
  private readonly forward: () => void;
  private gen = 0;
  private running = false;
  private wakes = 0;
  /** The wake callback of the current generation (made once per start(), not per wake). */
  private onWake: () => void = () => {};

  /** `doorbellI`: the doorbell word's index in `i32`; `forward`: compare the notify words and write the kick eventfds. */
  constructor(i32: Int32Array, doorbellI: number, forward: () => void) {
    this.i32 = i32;
    this.doorbellI = doorbellI;
    this.forward = forward;
  }

  /** Start waiting (idempotent). Forwards whatever moved already. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const gen = ++this.gen;
    this.onWake = () => {
      this.wakes++;
      this.arm(gen);
    };
    this.arm(gen);
  }

  /** Stop (idempotent): no forward runs after this returns; the pending wait settles and does nothing. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.gen++;
    this.onWake = () => {};
    // Settle our pending wait now (other waiters on a doorbell take wakes as hints: Backoff.wake semantics).
    Atomics.notify(this.i32, this.doorbellI);
  }

  get active(): boolean {
    return this.running;
  }

  /** Times the main thread woke to look at the notify words (waits settled, event-loop turns): for tests and diagnostics. */
  get wakeCount(): number {
    return this.wakes;
  }

  private arm(gen: number): void {
    for (let round = 0; round < ROUNDS_PER_TURN; round++) {
      if (gen !== this.gen) return; // stopped (or restarted) since this wait was armed
      // Read the doorbell before the notify words: a kick after this read changes it (see the class comment).
      const seen = Atomics.load(this.i32, this.doorbellI);
      this.forward();
      // Pairs with the data path's Atomics.add + Atomics.notify on the doorbell (queue-base.ts kick()).
      const w = waitAsync(this.i32, this.doorbellI, seen);
      if (w.async) {
        void w.value.then(this.onWake);
        return;
      }
      // "not-equal": a kick came while forwarding; look again.
    }
    setImmediate(this.onWake);
  }
}
