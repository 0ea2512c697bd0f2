/**
 * The conntrackd 1.4.x state-replication wire codec (pure: no sockets, no timers). The engine
 * uses: SyncMessage and its encode/decode (message.ts), datagram packing and the receive walk with
 * counted rejections (datagram.ts), the conntrack/expectation mappings (conntrack.ts,
 * expectation.ts), header helpers (header.ts) and the protocol constants (consts.ts).
 */
export * from './consts.js';
export { classifySync, decodeSyncMessage, encodeSyncMessage, writeSyncMessage } from './message.js';
export type { SyncAliveMessage, SyncClass, SyncCtMessage, SyncDecodeOptions, SyncExpMessage, SyncKind, SyncMessage, SyncMode, SyncOp, SyncRangeMessage } from './message.js';
export { decodeDatagram, encodeDatagrams, SYNC_REJECT_INFO } from './datagram.js';
export type { DatagramDecodeOptions, DatagramEncodeOptions, DecodedDatagram, SyncRejectReason, SyncRejection } from './datagram.js';
export { conntrackToWire, decodeConntrackBody, encodeConntrackBody, syncViewOfConntrack, wireToConntrack } from './conntrack.js';
export type { CtWire, SyncEncodeOptions } from './conntrack.js';
export { decodeExpectationBody, encodeExpectationBody, expectationToWire, syncViewOfExpectation, wireToExpectation } from './expectation.js';
export type { ExpTupleWire, ExpWire } from './expectation.js';
export { decodeSyncHeader, encodeSyncHeader, isRangeForm, seqBefore } from './header.js';
export type { SyncHeader } from './header.js';
