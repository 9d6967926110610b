// net_virtio_user facing back-ends that misbehave: every case ends in one
// line naming the port and the step, a non-zero exit (2 for what the user
// typed), and no hang (every wait is bounded).
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { native, nativeMissingReason } from "@tpdk/native";
import { protocol, u64Payload } from "@tpdk/vhost-user";
import { type Action, FakeBackend, type Received, reply, runL2fwd, tempDir } from "@tpdk/testing/e2e";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Features a DPDK back-end offers that matter here: VERSION_1, MRG_RXBUF, PROTOCOL_FEATURES. */
const GOOD_FEATURES = 2 ** 32 + (1 << 15) + (1 << protocol.VHOST_USER_F_PROTOCOL_FEATURES);

/** Answers like a well-behaved back-end, except where `override` says otherwise. */
function wellBehaved(override: (m: Received) => Action | undefined) {
  return (m: Received): Action => {
    const o = override(m);
    if (o) return o;
    switch (m.request) {
      case protocol.GET_FEATURES: return { send: reply(m, u64Payload(GOOD_FEATURES)) };
      case protocol.GET_PROTOCOL_FEATURES: return { send: reply(m, u64Payload(1 << protocol.PROTOCOL_F_REPLY_ACK)) };
      default:
        return m.flags & protocol.FLAG_NEED_REPLY ? { send: reply(m, u64Payload(0)) } : {};
    }
  };
}

async function runAgainst(script: (m: Received) => Action, extraKeys = "") {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const path = join(t.dir, "be.sock");
  const be = new FakeBackend(native!, path, script);
  cleanups.push(() => be.close());
  const started = Date.now();
  const r = await runL2fwd(["-l", "0", "--no-huge", "--vdev", `net_virtio_user0,path=${path}${extraKeys}`, "--", "-p", "0x1", "-T", "0"], 30_000);
  return { r, ms: Date.now() - started, be };
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

const missing = native ? null : `the native addon is not built: ${nativeMissingReason}`;

describe.skipIf(missing !== null)(`net_virtio_user against hostile back-ends${missing ? ` (skipped: ${missing})` : ""}`, () => {
  it("no socket at path: exit 2, one line naming the port and the path", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const r = await runL2fwd(["-l", "0", "--no-huge", "--vdev", `net_virtio_user0,path=${join(t.dir, "none.sock")}`, "--", "-p", "0x1"]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/^l2fwd: net_virtio_user0: path=.*none\.sock: no such socket; start the vhost-user back-end first/);
  });

  it("a missing path= is a usage error; packed_vq=1 with mq=1 is taken (the control queue is packed too)", async () => {
    const a = await runL2fwd(["-l", "0", "--no-huge", "--vdev", "net_virtio_user0", "--", "-p", "0x1"]);
    expect(a.code).toBe(2);
    expect(oneLine(a.stderr)).toMatch(/net_virtio_user0: path= is required/);
    // The keys pass; what stops this port is the missing socket.
    const b = await runL2fwd(["-l", "0", "--no-huge", "--vdev", "net_virtio_user0,path=/x,packed_vq=1,mq=1", "--", "-p", "0x1"]);
    expect(b.code).toBe(2);
    expect(oneLine(b.stderr)).toMatch(/net_virtio_user0: path=\/x: no such socket/);
  });

  it("a back-end that never replies: bounded wait, the step named", async () => {
    const { r, ms } = await runAgainst(() => ({}));
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/net_virtio_user0: the vhost-user back-end did not answer within 2000 ms \(waiting for the reply to GET_FEATURES\)/);
    expect(ms).toBeLessThan(15_000);
  });

  it("a back-end that hangs up mid-handshake", async () => {
    const { r } = await runAgainst(wellBehaved((m) => (m.request === protocol.GET_PROTOCOL_FEATURES ? { close: true } : undefined)));
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/closed the connection \(waiting for the reply to GET_PROTOCOL_FEATURES\)/);
  });

  it("a back-end that refuses the features (REPLY_ACK status 1)", async () => {
    const { r } = await runAgainst(wellBehaved((m) => (m.request === protocol.SET_FEATURES ? { send: reply(m, u64Payload(1)) } : undefined)));
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/refused SET_FEATURES/);
  });

  it("a reply announcing a garbage size", async () => {
    const { r } = await runAgainst((m) => {
      if (m.request !== protocol.GET_FEATURES) return {};
      const h = reply(m, new Uint8Array(0));
      new DataView(h.buffer).setUint32(8, 0xfffffff0, true);
      return { send: h };
    });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/broke the protocol after GET_FEATURES: reply announces 4294967280 payload bytes/);
  });

  it("a reply of the wrong size or to another request", async () => {
    const a = await runAgainst((m) => (m.request === protocol.GET_FEATURES ? { send: reply(m, new Uint8Array(3)) } : {}));
    expect(a.r.code).toBe(1);
    expect(oneLine(a.r.stderr)).toMatch(/answered GET_FEATURES with 3 bytes, expected 8/);
    const b = await runAgainst((m) => (m.request === protocol.GET_FEATURES ? { send: reply({ ...m, request: protocol.GET_QUEUE_NUM }, u64Payload(1)) } : {}));
    expect(b.r.code).toBe(1);
    expect(oneLine(b.r.stderr)).toMatch(/got GET_QUEUE_NUM .* instead of its reply/);
  });

  it("a back-end without VERSION_1: the bring-up fails naming the feature", async () => {
    const { r } = await runAgainst(wellBehaved((m) => (m.request === protocol.GET_FEATURES ? { send: reply(m, u64Payload(1 << protocol.VHOST_USER_F_PROTOCOL_FEATURES)) } : undefined)));
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/VERSION_1/);
  });
});
