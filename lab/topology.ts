import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { killProcessesIn } from './keepalived.js';
import { nft } from './link.js';
import { Netns } from './netns.js';

/**
 * A topology as data: nodes (one network namespace each), bridges (in a switch namespace of their
 * own, so that a node's port can be taken down from the "switch" side as a pulled cable would),
 * links (a veth from a node to a bridge, or point to point between two nodes), addresses, routes,
 * sysctls, nftables rulesets and the failover cluster that runs on it. buildTopology creates it in
 * fresh `ks-` namespaces; Lab.close (also run on exit, SIGINT and SIGTERM) deletes everything.
 */

/** Port is a node's end of a link: interface name and addresses (with prefix). */
export interface PortSpec {
  readonly node: string;
  readonly ifname: string;
  readonly cidrs: readonly string[];
}

/** LinkSpec is a veth from `a` to a bridge (by name) or to another node's port. */
export type LinkSpec = { readonly a: PortSpec; readonly bridge: string } | { readonly a: PortSpec; readonly b: PortSpec };

/** NodeSpec is one namespace: its sysctls, nftables ruleset and routes (`ip route add` arguments). */
export interface NodeSpec {
  readonly name: string;
  readonly sysctls?: Readonly<Record<string, string | number>>;
  readonly nft?: string;
  readonly routes?: readonly (readonly string[])[];
}

/** VrrpSide is one VRRP instance of the cluster: the interface every firewall has on it and its VIP. */
export interface VrrpSide {
  readonly name: string; // vrrp_instance name
  readonly iface: string;
  readonly vrid: number;
  readonly vip: string; // with prefix
}

/** FirewallSpec is where a sync daemon and the failover manager run, with the VRRP priority there. */
export interface FirewallSpec {
  readonly node: string;
  readonly priority: number;
  readonly syncAddr: string; // this firewall's address on the sync link (no prefix)
}

/** ClusterSpec is the failover cluster on a topology: firewalls, VRRP instances (one sync group) and the sync link. */
export interface ClusterSpec {
  readonly firewalls: readonly FirewallSpec[];
  readonly vrrp: readonly VrrpSide[];
  readonly sync: { readonly kind: 'udp' | 'multicast'; readonly device: string; readonly group?: string };
}

/** TopologySpec is a whole lab: what buildTopology creates. */
export interface TopologySpec {
  readonly label: string; // short: it goes into namespace names
  readonly nodes: readonly NodeSpec[];
  readonly bridges: readonly string[];
  readonly links: readonly LinkSpec[];
  readonly cluster: ClusterSpec;
  /** client and server nodes of the traffic, and the server's address clients connect to. */
  readonly traffic: { readonly client: string; readonly server: string; readonly serverAddr: string; readonly clientNet: string };
}

const FORWARDING = { 'net.ipv4.ip_forward': 1, 'net.netfilter.nf_conntrack_events': 1 } as const;

/**
 * firewallRuleset is the HALF firewall: forward policy drop, INVALID dropped (with
 * nf_conntrack_tcp_loose=0 a mid-stream packet without an entry is INVALID: a connection survives
 * a takeover only if its entry was in the new master's kernel), established accepted, new
 * connections only from the LAN, and SNAT of the LAN to the WAN VIP with fully-random ports — so a
 * NAT mapping the new master does not hold cannot be guessed again.
 */
export function firewallRuleset(o: { lanIf: string; wanIf: string; lanNet: string; wanVip: string }): string {
  return `table ip ks_nat {
  chain pre { type nat hook prerouting priority -100; }
  chain post { type nat hook postrouting priority 100; oifname "${o.wanIf}" ip saddr ${o.lanNet} snat to ${o.wanVip} fully-random; }
}
table inet ks_filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state invalid drop
    ct state established,related accept
    iifname "${o.lanIf}" oifname "${o.wanIf}" ct state new accept
  }
}
`;
}

/**
 * fwSysctls: forwarding, conntrack events for the sync daemon, and nf_conntrack_tcp_loose (0: a
 * mid-stream packet without an entry is INVALID and dropped, so a connection lives only if its
 * entry was replicated; 1: the kernel picks such a packet up as a new connection — behind SNAT
 * with a new random port, which the server answers with a reset).
 */
function fwSysctls(tcpLoose: 0 | 1): Readonly<Record<string, number>> {
  return { ...FORWARDING, 'net.netfilter.nf_conntrack_tcp_loose': tcpLoose };
}

/** HalfOptions: the first two octets of every subnet, and nf_conntrack_tcp_loose on the firewalls (default 0). */
export interface HalfOptions {
  readonly net?: string;
  readonly tcpLoose?: 0 | 1;
}

/**
 * halfTopology is the HALF scenario: client — LAN bridge — fw1/fw2 — WAN bridge — server, with a
 * dedicated point-to-point sync link fw1–fw2 (FTFW over UDP), LAN and WAN VIPs in one sync group,
 * fw1 preferred (priority 150). Subnets are under `net` (default 10.251).
 *
 *   client .10 ─ lan ─┬─ lan0 fw1 .1 ─┐ sync0 ┌─ wan0 fw1 .1 ─┬─ wan ─ server .20
 *   gw VIP .100       └─ lan0 fw2 .2 ─┴───────┴─ wan0 fw2 .2 ─┘       (replies to VIP .100)
 *   net.1.0/24                        net.0.0/24               net.2.0/24
 */
export function halfTopology(o: HalfOptions = {}): TopologySpec {
  const net = o.net ?? '10.251';
  const lanVip = `${net}.1.100`;
  const wanVip = `${net}.2.100`;
  const fw = (n: number): NodeSpec => ({
    name: `fw${n}`,
    sysctls: fwSysctls(o.tcpLoose ?? 0),
    nft: firewallRuleset({ lanIf: 'lan0', wanIf: 'wan0', lanNet: `${net}.1.0/24`, wanVip }),
  });
  return {
    label: 'half',
    nodes: [
      { name: 'client', routes: [['default', 'via', lanVip]] },
      { name: 'server' }, // replies go to the WAN VIP, which is on-link
      fw(1),
      fw(2),
    ],
    bridges: ['lan', 'wan'],
    links: [
      { a: { node: 'client', ifname: 'eth0', cidrs: [`${net}.1.10/24`] }, bridge: 'lan' },
      { a: { node: 'server', ifname: 'eth0', cidrs: [`${net}.2.20/24`] }, bridge: 'wan' },
      ...[1, 2].flatMap((n): LinkSpec[] => [
        { a: { node: `fw${n}`, ifname: 'lan0', cidrs: [`${net}.1.${n}/24`] }, bridge: 'lan' },
        { a: { node: `fw${n}`, ifname: 'wan0', cidrs: [`${net}.2.${n}/24`] }, bridge: 'wan' },
      ]),
      { a: { node: 'fw1', ifname: 'sync0', cidrs: [`${net}.0.1/24`] }, b: { node: 'fw2', ifname: 'sync0', cidrs: [`${net}.0.2/24`] } },
    ],
    cluster: {
      firewalls: [
        { node: 'fw1', priority: 150, syncAddr: `${net}.0.1` },
        { node: 'fw2', priority: 100, syncAddr: `${net}.0.2` },
      ],
      vrrp: [
        { name: 'VI_LAN', iface: 'lan0', vrid: 51, vip: `${lanVip}/24` },
        { name: 'VI_WAN', iface: 'wan0', vrid: 52, vip: `${wanVip}/24` },
      ],
      sync: { kind: 'udp', device: 'sync0' },
    },
    traffic: { client: 'client', server: 'server', serverAddr: `${net}.2.20`, clientNet: `${net}.1.0/24` },
  };
}

/**
 * threeNodeTopology is HALF with three firewalls — fw1 master (150), fw2 (100) and fw3 (50)
 * standbys — whose sync ports share a sync bridge, replicating over multicast (225.0.0.50).
 */
export function threeNodeTopology(o: HalfOptions = {}): TopologySpec {
  const net = o.net ?? '10.252';
  const half = halfTopology({ ...o, net });
  const wanVip = `${net}.2.100`;
  const fw3: NodeSpec = { name: 'fw3', sysctls: fwSysctls(o.tcpLoose ?? 0), nft: firewallRuleset({ lanIf: 'lan0', wanIf: 'wan0', lanNet: `${net}.1.0/24`, wanVip }) };
  return {
    ...half,
    label: 'tri',
    nodes: [...half.nodes, fw3],
    bridges: [...half.bridges, 'sync'],
    links: [
      ...half.links.filter((l) => !('b' in l)),
      { a: { node: 'fw3', ifname: 'lan0', cidrs: [`${net}.1.3/24`] }, bridge: 'lan' },
      { a: { node: 'fw3', ifname: 'wan0', cidrs: [`${net}.2.3/24`] }, bridge: 'wan' },
      ...[1, 2, 3].map((n): LinkSpec => ({ a: { node: `fw${n}`, ifname: 'sync0', cidrs: [`${net}.0.${n}/24`] }, bridge: 'sync' })),
    ],
    cluster: {
      ...half.cluster,
      firewalls: [
        { node: 'fw1', priority: 150, syncAddr: `${net}.0.1` },
        { node: 'fw2', priority: 100, syncAddr: `${net}.0.2` },
        { node: 'fw3', priority: 50, syncAddr: `${net}.0.3` },
      ],
      sync: { kind: 'multicast', device: 'sync0', group: '225.0.0.50' },
    },
  };
}

/** live are the labs not yet closed: the exit and signal handlers delete them. */
const live = new Set<Lab>();
let handlersInstalled = false;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // 'exit' runs synchronous code only: Lab.close is synchronous (execFileSync, kill by pid).
  process.on('exit', () => closeAll());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      closeAll();
      process.kill(process.pid, sig); // the default action, now that the handler is gone
    });
  }
}

function closeAll(): void {
  for (const lab of [...live]) lab.close();
}

/**
 * Lab is a built topology: `ns(node)` is a node's namespace, `switchNs` holds the bridges, and
 * `setPort` takes a node's port up or down from the bridge side.
 */
export class Lab {
  private closed = false;

  constructor(
    readonly spec: TopologySpec,
    private readonly nodes: ReadonlyMap<string, Netns>,
    readonly switchNs: Netns,
  ) {}

  /** ns is the namespace of node `name` (throws for an unknown node). */
  ns(name: string): Netns {
    const ns = this.nodes.get(name);
    if (ns === undefined) throw new Error(`no node ${name} in topology ${this.spec.label}`);
    return ns;
  }

  /** bridgePort is the name of the switch-side end of `node`'s `ifname` (≤ 15 bytes). */
  static bridgePort(node: string, ifname: string): string {
    return `${node}-${ifname}`.slice(0, 15);
  }

  /**
   * setPort takes `node`'s `ifname` up or down. A bridge port goes down on the switch side (the
   * node sees its carrier go); a point-to-point link goes down on the node's side.
   */
  setPort(node: string, ifname: string, up: boolean): void {
    const link = this.spec.links.find((l) => l.a.node === node && l.a.ifname === ifname);
    const p2pB = this.spec.links.find((l) => 'b' in l && l.b.node === node && l.b.ifname === ifname);
    const state = up ? 'up' : 'down';
    if (link !== undefined && 'bridge' in link) this.switchNs.exec('ip', ['link', 'set', Lab.bridgePort(node, ifname), state]);
    else if (link !== undefined || p2pB !== undefined) this.ns(node).exec('ip', ['link', 'set', ifname, state]);
    else throw new Error(`${node} has no port ${ifname}`);
  }

  /** setAllPorts takes every port of `node` up or down (a dead or returning box). */
  setAllPorts(node: string, up: boolean): void {
    for (const l of this.spec.links) {
      if (l.a.node === node) this.setPort(node, l.a.ifname, up);
      else if ('b' in l && l.b.node === node) this.setPort(node, l.b.ifname, up);
    }
  }

  /** close kills every process in the namespaces (by pid) and deletes them. Idempotent, synchronous. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    for (const ns of [...this.nodes.values(), this.switchNs]) {
      killProcessesIn(ns);
      ns.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * topologyErrors lists what is wrong with a spec before anything is created: links to unknown
 * nodes or bridges, a port name used twice on a node, switch-side port names that collide once cut
 * to IFNAMSIZ, cluster firewalls, VRRP interfaces or traffic ends that do not exist.
 */
export function topologyErrors(spec: TopologySpec): string[] {
  const errors: string[] = [];
  const nodes = new Set(spec.nodes.map((n) => n.name));
  const bridges = new Set(spec.bridges);
  const ports = new Map<string, Set<string>>();
  const switchPorts = new Set<string>();
  const addPort = (p: PortSpec): void => {
    if (!nodes.has(p.node)) errors.push(`link from unknown node ${p.node}`);
    if (p.ifname.length > 15) errors.push(`${p.node}: interface name ${p.ifname} is longer than 15 bytes`);
    const set = ports.get(p.node) ?? new Set<string>();
    if (set.has(p.ifname)) errors.push(`${p.node}: port ${p.ifname} used twice`);
    set.add(p.ifname);
    ports.set(p.node, set);
  };
  for (const l of spec.links) {
    addPort(l.a);
    if ('bridge' in l) {
      if (!bridges.has(l.bridge)) errors.push(`${l.a.node}.${l.a.ifname}: unknown bridge ${l.bridge}`);
      const sp = Lab.bridgePort(l.a.node, l.a.ifname);
      if (switchPorts.has(sp)) errors.push(`switch port name ${sp} is not unique`);
      switchPorts.add(sp);
    } else {
      addPort(l.b);
    }
  }
  for (const f of spec.cluster.firewalls) {
    if (!nodes.has(f.node)) errors.push(`cluster firewall ${f.node} is not a node`);
    for (const v of spec.cluster.vrrp) if (ports.get(f.node)?.has(v.iface) !== true) errors.push(`${f.node} has no ${v.iface} for ${v.name}`);
    if (ports.get(f.node)?.has(spec.cluster.sync.device) !== true) errors.push(`${f.node} has no sync device ${spec.cluster.sync.device}`);
  }
  for (const n of [spec.traffic.client, spec.traffic.server]) if (!nodes.has(n)) errors.push(`traffic end ${n} is not a node`);
  return errors;
}

/** buildTopology creates `spec` in fresh namespaces; a failure half-way deletes what was made. */
export function buildTopology(spec: TopologySpec): Lab {
  const errors = topologyErrors(spec);
  if (errors.length > 0) throw new Error(`topology ${spec.label}: ${errors.join('; ')}`);
  installHandlers();
  const nodes = new Map<string, Netns>();
  const tag = randomBytes(2).toString('hex');
  const sw = Netns.create(`${spec.label}${tag}sw`);
  const lab = new Lab(spec, nodes, sw);
  live.add(lab);
  try {
    for (const n of spec.nodes) {
      const ns = Netns.create(`${spec.label}${tag}${n.name}`);
      nodes.set(n.name, ns);
      // No DAD: addresses are usable at once, and a VIP moving between nodes is not held back.
      ns.sysctl('net.ipv6.conf.all.accept_dad', 0);
      ns.sysctl('net.ipv6.conf.default.accept_dad', 0);
    }
    for (const b of spec.bridges) {
      sw.exec('ip', ['link', 'add', b, 'type', 'bridge']);
      sw.exec('ip', ['link', 'set', b, 'up']);
    }
    for (const l of spec.links) {
      const a = lab.ns(l.a.node);
      if ('bridge' in l) {
        const port = Lab.bridgePort(l.a.node, l.a.ifname);
        a.exec('ip', ['link', 'add', l.a.ifname, 'type', 'veth', 'peer', 'name', port, 'netns', sw.name]);
        sw.exec('ip', ['link', 'set', port, 'master', l.bridge]);
        sw.exec('ip', ['link', 'set', port, 'up']);
        configurePort(a, l.a);
      } else {
        const b = lab.ns(l.b.node);
        const tmp = `ksv${randomBytes(4).toString('hex')}`;
        a.exec('ip', ['link', 'add', l.a.ifname, 'type', 'veth', 'peer', 'name', tmp, 'netns', b.name]);
        b.exec('ip', ['link', 'set', tmp, 'name', l.b.ifname]);
        configurePort(a, l.a);
        configurePort(b, l.b);
      }
    }
    for (const n of spec.nodes) {
      const ns = lab.ns(n.name);
      for (const [k, v] of Object.entries(n.sysctls ?? {})) ns.sysctl(k, v);
      if (n.nft !== undefined) nft(ns, n.nft);
      for (const r of n.routes ?? []) ns.exec('ip', ['route', 'add', ...r]);
    }
    return lab;
  } catch (e) {
    lab.close();
    throw e;
  }
}

function configurePort(ns: Netns, p: PortSpec): void {
  for (const c of p.cidrs) ns.exec('ip', ['addr', 'add', c, 'dev', p.ifname, ...(c.includes(':') ? ['nodad'] : [])]);
  ns.exec('ip', ['link', 'set', p.ifname, 'up']);
}

/** vipsOn lists which of the cluster's VIPs `node` holds (addresses without prefix). */
export function vipsOn(lab: Lab, node: string): string[] {
  const text = lab.ns(node).exec('ip', ['-o', 'addr', 'show']);
  return lab.spec.cluster.vrrp.map((v) => v.vip.split('/')[0]!).filter((a) => text.includes(` ${a}/`));
}

/** removeVips deletes whatever VIPs `node` still holds (what a reboot does to them). */
export function removeVips(lab: Lab, node: string): void {
  for (const v of lab.spec.cluster.vrrp) {
    if (vipsOn(lab, node).includes(v.vip.split('/')[0]!)) lab.ns(node).exec('ip', ['addr', 'del', v.vip, 'dev', v.iface]);
  }
}

/** hostHasCommand tells whether `cmd` is on PATH (nft, conntrack…). */
export function hostHasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
