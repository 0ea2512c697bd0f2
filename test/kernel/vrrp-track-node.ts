// A keepstated failover node for namespace tests: keepstated's FailoverManager (what its failover
// thread runs) started in this process on a keepalived.conf text, working in a namespace through
// netns-aware sockets, with a state port that has nothing to commit. Running it here rather than
// behind `keepstated -d` lets a test read its status() directly.
import { execFileSync } from 'node:child_process';
import { parseKeepalivedText } from '../../src/config/keepalived/index.js';
import { FailoverManager, type InstanceStatus } from '../../src/failover/manager.js';
import type { Netns } from '../../lab/netns.js';

export class FailoverNode {
  private constructor(
    readonly ns: Netns,
    private readonly m: FailoverManager,
    readonly logs: readonly string[],
  ) {}

  /** start runs the instances of `conf` (keepalived.conf text) in `ns`. */
  static async start(ns: Netns, conf: string, file = '/virtual/keepalived.conf'): Promise<FailoverNode> {
    const { config } = parseKeepalivedText(conf, file);
    const logs: string[] = [];
    const m = await FailoverManager.start(config, {
      netns: ns.name,
      state: { prepare: async () => {}, release: async () => {} },
      log: (level, message) => logs.push(`${new Date().toISOString()} ${level} ${message}`),
    });
    return new FailoverNode(ns, m, logs);
  }

  status(name: string): InstanceStatus {
    const s = this.m.status().find((i) => i.name === name);
    if (s === undefined) throw new Error(`no instance ${name}`);
    return s;
  }

  role(name: string): InstanceStatus['role'] {
    return this.status(name).role;
  }

  get log(): string {
    return this.logs.join('\n');
  }

  stop(): Promise<void> {
    return this.m.stop();
  }
}

/** hasAddress tells whether `address` is on some interface of `ns`. */
export function hasAddress(ns: Netns, address: string): boolean {
  return ns.exec('ip', ['-o', 'addr', 'show']).includes(` ${address}/`);
}

/** macOf is an interface's link-layer address. */
export function macOf(ns: Netns, ifname: string): string {
  const j = JSON.parse(ns.exec('ip', ['-j', 'link', 'show', ifname])) as { address: string }[];
  return j[0]!.address;
}

/**
 * bridgePort connects `ns`'s `ifname` (with `cidr`) to bridge `bridge` in namespace `host` through
 * a veth pair whose host end is `port`.
 */
export function bridgePort(ns: Netns, ifname: string, cidr: string, host: Netns, bridge: string, port: string): void {
  const tmpA = `ksb${Math.random().toString(16).slice(2, 10)}`;
  const tmpB = `ksb${Math.random().toString(16).slice(2, 10)}`;
  execFileSync('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
  try {
    execFileSync('ip', ['link', 'set', tmpA, 'netns', ns.name]);
    execFileSync('ip', ['link', 'set', tmpB, 'netns', host.name]);
  } catch (e) {
    execFileSync('ip', ['link', 'del', tmpA], { stdio: 'ignore' });
    throw e;
  }
  ns.exec('ip', ['link', 'set', tmpA, 'name', ifname]);
  ns.exec('ip', ['addr', 'add', cidr, 'dev', ifname]);
  ns.exec('ip', ['link', 'set', ifname, 'up']);
  host.exec('ip', ['link', 'set', tmpB, 'name', port]);
  host.exec('ip', ['link', 'set', port, 'master', bridge]);
  host.exec('ip', ['link', 'set', port, 'up']);
}

/** GarpFrame is one gratuitous ARP seen in a capture. */
export interface GarpFrame {
  readonly atMs: number; // capture time, ms since the epoch
  readonly senderMac: string;
  readonly ip: string;
}

/** readPcapGarps lists the gratuitous ARPs (sender IP = target IP) of an Ethernet pcap file (little-endian, µs). */
export function readPcapGarps(buf: Buffer): GarpFrame[] {
  if (buf.length < 24 || buf.readUInt32LE(0) !== 0xa1b2c3d4 || buf.readUInt32LE(20) !== 1) throw new Error('not a little-endian microsecond Ethernet pcap file');
  const out: GarpFrame[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const atMs = buf.readUInt32LE(off) * 1000 + buf.readUInt32LE(off + 4) / 1000;
    const incl = buf.readUInt32LE(off + 8);
    const f = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    // Ethernet header (14), then ARP for IPv4 over Ethernet: htype 1, ptype 0x0800, hlen 6, plen 4.
    if (f.length < 42 || f.readUInt16BE(12) !== 0x0806 || f.readUInt16BE(16) !== 0x0800 || f[18] !== 6 || f[19] !== 4) continue;
    const spa = f.subarray(28, 32).join('.');
    const tpa = f.subarray(38, 42).join('.');
    if (spa !== tpa) continue;
    out.push({ atMs, senderMac: Array.from(f.subarray(22, 28), (b) => b.toString(16).padStart(2, '0')).join(':'), ip: spa });
  }
  return out;
}
