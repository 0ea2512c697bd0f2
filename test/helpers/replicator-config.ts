import type { ReplicatorConfig } from '../../src/engine/replicator.js';

/**
 * REPLICATOR_CFG is the Replicator configuration the engine tests start from (conntrackd's
 * defaults where it has them: ACK window 300, resend queue 131 072, HashLimit 262 144; a 1500-byte
 * MTU over UDP/IPv4); each test spreads its own changes over it.
 */
export const REPLICATOR_CFG: ReplicatorConfig = {
  ackWindow: 300,
  resendQueueSize: 131_072,
  hashLimit: 262_144,
  mtu: 1500,
  overhead: 28,
  tcpWindowTracking: false,
  commitTimeout: false,
  initialSeq: 1_700_000_000,
};
