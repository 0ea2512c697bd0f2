import type { ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import type { Netns } from './netns.js';

/**
 * Capture is a tcpdump (scripts/setup.sh installs it) writing what crosses an interface of a
 * namespace this process created to a pcap file; `stop` ends exactly that process (by its pid,
 * through the child handle) and returns the file's UDP datagrams.
 */
export class Capture {
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly file: string,
  ) {
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
  }

  /** dropped is how many packets tcpdump says the kernel dropped (known once stopped). */
  get dropped(): number | undefined {
    const m = /(\d+) packets? dropped by kernel/.exec(this.stderr);
    return m === null ? undefined : Number(m[1]);
  }

  /**
   * start runs `tcpdump -i <ifname> -U -w <file> <filter>` in `ns` and resolves once tcpdump says it
   * is listening. The kernel buffer is large (-B) so that bursts of datagrams are not dropped.
   */
  static async start(ns: Netns, ifname: string, file: string, filter = 'udp'): Promise<Capture> {
    // --immediate-mode: without it libpcap hands packets over in ring blocks retired after up to a
    // second, and the packets of the current block are lost (uncounted) when tcpdump stops.
    const child = ns.spawn('tcpdump', ['-i', ifname, '--immediate-mode', '-U', '-B', '32768', '-n', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000); // hang guard
      child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('listening on')) {
          clearTimeout(t);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`tcpdump exited (${code}): ${err}`));
      });
    });
    return new Capture(child, file);
  }

  /**
   * stop waits until the file stops growing (what was sent before the call is written), ends
   * tcpdump (SIGINT: it flushes and exits) and returns the UDP datagrams it wrote.
   */
  async stop(): Promise<UdpDatagram[]> {
    return readPcapUdp(await this.stopFile());
  }

  /**
   * stopFile is stop returning the whole pcap file (for readPcapIpv4). `waitQuiet` false stops at
   * once, for links that never go quiet (VRRP adverts); tcpdump -U has written what it captured.
   */
  async stopFile(waitQuiet = true): Promise<Buffer> {
    if (this.child.exitCode === null) {
      for (let last = -1, size = statSync(this.file).size; waitQuiet && size !== last; last = size, size = statSync(this.file).size) {
        await new Promise((r) => setTimeout(r, 300));
      }
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGINT');
      await exited;
    }
    return readFileSync(this.file);
  }
}

/** Ipv4Packet is one captured IPv4 packet: kernel timestamp (µs since the epoch), addresses, protocol, payload. */
export interface Ipv4Packet {
  readonly tsUs: number;
  readonly src: string;
  readonly dst: string;
  readonly proto: number;
  readonly ttl: number;
  readonly payload: Uint8Array;
}

/** readPcapIpv4 lists the IPv4 packets of a classic little-endian microsecond pcap file, with their timestamps. */
export function readPcapIpv4(buf: Buffer): Ipv4Packet[] {
  if (buf.length < 24 || buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('not a little-endian microsecond pcap file');
  const ip = LINK_HEADER[buf.readUInt32LE(20)];
  if (ip === undefined) throw new Error(`unsupported link type ${buf.readUInt32LE(20)}`);
  const out: Ipv4Packet[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const tsUs = buf.readUInt32LE(off) * 1_000_000 + buf.readUInt32LE(off + 4);
    const incl = buf.readUInt32LE(off + 8);
    const pkt = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    if (pkt.length < ip + 20 || pkt[ip]! >> 4 !== 4) continue;
    const hl = (pkt[ip]! & 15) * 4;
    const end = Math.min(pkt.length, ip + pkt.readUInt16BE(ip + 2));
    out.push({ tsUs, src: pkt.subarray(ip + 12, ip + 16).join('.'), dst: pkt.subarray(ip + 16, ip + 20).join('.'), proto: pkt[ip + 9]!, ttl: pkt[ip + 8]!, payload: pkt.subarray(ip + hl, end) });
  }
  return out;
}

/** UdpDatagram is one captured IPv4 UDP datagram. */
export interface UdpDatagram {
  readonly src: string;
  readonly dst: string;
  readonly payload: Uint8Array;
}

/** LINKTYPE_ETHERNET and LINKTYPE_LINUX_SLL (tcpdump -i any): the link headers readPcapUdp knows. */
const LINK_HEADER: Readonly<Record<number, number>> = { 1: 14, 113: 16 };

/**
 * readPcapUdp lists the IPv4 UDP datagrams of a classic little-endian pcap file (what tcpdump
 * writes on x86), skipping anything else.
 */
export function readPcapUdp(buf: Buffer): UdpDatagram[] {
  if (buf.length < 24 || buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('not a little-endian microsecond pcap file');
  const linkHeader = LINK_HEADER[buf.readUInt32LE(20)];
  if (linkHeader === undefined) throw new Error(`unsupported link type ${buf.readUInt32LE(20)}`);
  const out: UdpDatagram[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const incl = buf.readUInt32LE(off + 8);
    const pkt = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    const ip = linkHeader;
    if (pkt.length < ip + 28 || pkt[ip]! >> 4 !== 4 || pkt[ip + 9] !== 17) continue;
    const udp = ip + (pkt[ip]! & 15) * 4;
    const end = Math.min(pkt.length, udp + pkt.readUInt16BE(udp + 4));
    out.push({ src: pkt.subarray(ip + 12, ip + 16).join('.'), dst: pkt.subarray(ip + 16, ip + 20).join('.'), payload: pkt.subarray(udp + 8, end) });
  }
  return out;
}
