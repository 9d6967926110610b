/**
 * The raw layout of the shared port table (zone PORT_TABLE_ZONE): the one
 * place its offsets are written down. The main thread reads and writes it
 * through PortTableEntry (port-table.ts); lcores read it by offset (queue
 * objects: state, queue zone offsets, max frame, claim tokens).
 *
 * PMD_MAX_PORTS entries of PORT_ENTRY bytes, u32 fields (written by the main
 * thread, control path):
 *
 *   +0   state        PORT_FREE / PORT_PROBED / PORT_CONFIGURED / PORT_STARTED / PORT_STOPPED
 *   +4   features lo  +8 features hi (negotiated)
 *   +12  hdr size     virtio_net_hdr bytes (12, or 10 for legacy without MRG_RXBUF)
 *   +16  nb rx queues +20 nb tx queues
 *   +24  tx mode      TXM_*
 *   +28  transport region offset
 *   +32  mac[6]
 *   +40  max frame    longest frame TX sends: MTU (negotiated, else 1500) + 14 + 4 (one VLAN tag)
 *   +44  queue seq    tokens for queue objects' claims (Atomics.add; kept across re-probes)
 *   +64  rx queue zone offsets [PMD_MAX_QUEUES]   +128 tx queue zone offsets [PMD_MAX_QUEUES]
 */
export const PORT_TABLE_ZONE = "vpmd.ports";
export const PMD_MAX_PORTS = 32;
export const PMD_MAX_QUEUES = 16;
export const PORT_ENTRY = 256;

export const P_STATE = 0;
export const P_FEAT_LO = 4;
export const P_FEAT_HI = 8;
export const P_HDR_SIZE = 12;
export const P_NB_RXQ = 16;
export const P_NB_TXQ = 20;
export const P_TX_MODE = 24;
export const P_TRANSPORT = 28;
export const P_MAC = 32;
export const P_MAX_FRAME = 40;
export const P_QUEUE_SEQ = 44;
export const P_RXQ_ZONES = 64;
export const P_TXQ_ZONES = 128;

export const PORT_FREE = 0;
export const PORT_PROBED = 1;
export const PORT_CONFIGURED = 2;
export const PORT_STARTED = 3;
export const PORT_STOPPED = 4;

export const TXM_AUTO = 0;
export const TXM_CHAINED = 1;
export const TXM_PUSH = 2;
export const TXM_INDIRECT = 3;

export function portEntry(table: number, port: number): number {
  return table + port * PORT_ENTRY;
}
