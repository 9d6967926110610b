// Test support for packages/vhost-user: a scripted peer on a real socket,
// a recording data plane, payload shorthands, net_vhost's data path against a front-end in a
// memfd (memfdFrontend). Never a product dependency.
export { MessagePeer, type Reply } from "./message-peer.js";
export { RecordingPlane, msg, openFds, settle } from "./recording.js";
export { BUF, FILE, GPA, memfdFrontend, type MemfdFrontend, Q, ringOff, UVA } from "./memfd-frontend.js";
