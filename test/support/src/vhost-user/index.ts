// Test support for packages/vhost-user: a scripted peer on a real socket,
// a recording data plane, payload shorthands. Never a product dependency.
export { MessagePeer, type Reply } from "./message-peer.js";
export { RecordingPlane, msg, openFds, settle } from "./recording.js";
