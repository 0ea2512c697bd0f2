/**
 * VRRP v2/v3, pure parts: the advertisement codec and checksum (packet.ts, checksum.ts), receive
 * validation with discard reasons (validate.ts), timer formulas (timing.ts), the state machine
 * (fsm.ts) and the sync-group combinator (sync-group.ts). Sockets, timers and the takeover itself
 * live in the runtime that executes the state machine's actions.
 */
export * from './consts.js';
export * from './checksum.js';
export * from './packet.js';
export * from './validate.js';
export * from './timing.js';
export * from './fsm.js';
export * from './sync-group.js';
