/** Built-module URL, as a JSON string for a child script's import(): relative to the repository root. */
const built = (path: string): string => JSON.stringify(new URL(`../../../${path}`, import.meta.url).href);

/**
 * Source for the start of a child script that runs l2fwdLoop over scripted ports (prime-paths,
 * drop-count-alloc): the built modules it needs, EAL memory, a pool and 64 frames taken from it.
 * A frame the loop drops is freed; refcnt 0xffff keeps every free a decrement (none goes back to
 * the pool). Defines Memory, Backoff, CTRL_STOP, Mbufs, Mempool, registerQueueAttacher,
 * reserveStats, readCounters, l2fwdLoop, mem, pool, frames, mbufs. The script must be run from a
 * file (not -e), so that the loop's module graph loads as in the lcore worker.
 */
export const SCRIPTED_PORTS_PREAMBLE = `
const { Memory, Backoff, CTRL_STOP } = await import(${built("packages/eal/dist/index.js")});
const { Mbufs, Mempool } = await import(${built("packages/mbuf/dist/index.js")});
const { registerQueueAttacher } = await import(${built("packages/virtio-pmd/dist/index.js")});
const { reserveStats, readCounters } = await import(${built("apps/l2fwd/dist/index.js")});
const { l2fwdLoop } = await import(${built("apps/l2fwd/dist/lcore-loop.js")});
const mem = Memory.create(32 << 20);
const pool = Mempool.create(mem, "mbuf_pool", { n: 1024, cacheSize: 32 });
const frames = new Uint32Array(64);
pool.getBulk(frames, 64);
const mbufs = new Mbufs(mem);
for (const m of frames) mbufs.setRefcnt(m, 0xffff);
`;
