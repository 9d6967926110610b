// UDP helpers for the tests whose wires or peers are sockets on 127.0.0.1.
import * as dgram from "node:dgram";

/** A udp4 socket bound to an ephemeral port on 127.0.0.1. */
export async function udpSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  return s;
}

/** A free UDP port on 127.0.0.1 (bound and released: the kernel will not hand it out again at once). */
export async function freeUdpPort(): Promise<number> {
  const s = await udpSocket();
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}
