// What a test that runs real peers (testpmd, l2fwd) keeps for its cleanup:
// every process it started is stopped by PID and every temporary folder
// removed after each test, even a failed one.
import { WatchedL2fwd, Testpmd } from "./testpmd.js";
import { tempDir } from "./l2fwd.js";

/**
 * Two CPUs, three busy threads when a built-in port is in the run (l2fwd's
 * lcore on CPU 0, the device thread on the service CPU 1, testpmd's
 * forwarding lcore): testpmd shares CPU 0 with the lcore, so the device
 * thread is never starved past its heartbeat timeout.
 */
export const SHARED_CPU = 0;

export class PeerSession {
  private readonly pmds: Testpmd[] = [];
  private readonly l2fwds: WatchedL2fwd[] = [];
  private readonly dirs: (() => void)[] = [];

  /** A temporary folder (for sockets and captures), removed at close(). */
  readonly sockDir = (): string => {
    const t = tempDir();
    this.dirs.push(t.cleanup);
    return t.dir;
  };

  /** testpmd started and at its prompt. */
  readonly testpmd = async (o: Parameters<typeof Testpmd.start>[0]): Promise<Testpmd> => {
    const t = Testpmd.start(o);
    this.pmds.push(t);
    await t.waitFor(/testpmd> /, 30_000);
    return t;
  };

  readonly l2fwd = (...args: ConstructorParameters<typeof WatchedL2fwd>): WatchedL2fwd => {
    const l = new WatchedL2fwd(...args);
    this.l2fwds.push(l);
    return l;
  };

  /** Stop everything started since the last close (call from afterEach). */
  readonly close = async (): Promise<void> => {
    for (const l of this.l2fwds.splice(0)) l.signal("SIGKILL");
    for (const t of this.pmds.splice(0)) await t.kill().catch(() => undefined);
    for (const c of this.dirs.splice(0)) c();
  };
}
