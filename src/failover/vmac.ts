import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import type { RtnlClient } from '../rtnetlink/client.js';
import { MACVLAN_MODE } from '../rtnetlink/consts.js';
import { formatMac, parseMac } from '../rtnetlink/link.js';
import type { Family } from '../wire/ip.js';

/**
 * use_vmac as keepalived 2.2.7 does it (vrrp_vmac.c netlink_link_add_vmac, vrrp_if_config.c): a
 * macvlan in private mode on the instance's interface, named vrrp.<VRID> unless named in the
 * configuration, with the RFC 5798 §7.3 virtual MAC 00:00:5e:00:01:<VRID> (IPv4) /
 * 00:00:5e:00:02:<VRID> (IPv6) unless one is given; created at start, deleted at stop. Private
 * mode matters: a frame whose source MAC is a macvlan's own address (the other router's adverts
 * and gratuitous ARPs, which carry the same VMAC) is handed to that macvlan only.
 *
 * Kernel settings, only for IPv4 instances (as keepalived): on the macvlan arp_ignore=1 (answer
 * ARP only for its own addresses, the VIPs), accept_local=1 (hear the other router's adverts
 * whose source is a local address), rp_filter=0 (receive although it has no address of the
 * source's subnet), promote_secondaries=1; on the parent arp_ignore=1 and arp_filter=1 (it must
 * not answer for the VIPs with its own MAC), put back at stop. rp_filter=0 only takes effect when
 * net.ipv4.conf.all.rp_filter is 0 too (the kernel uses the larger); keepalived's clear_rp_filter
 * then raises default and every interface to all's value and sets all to 0, which this does too.
 * IPv6 is disabled on the macvlan of an IPv4 instance; on an IPv6 one no EUI-64 link-local
 * address is generated (addr_gen_mode none, RFC 5798 §7.4) and the parent's link-local address is
 * added instead, so adverts come from a non-VIP address with the VMAC.
 *
 * A backup's macvlan joins the VRRP group too, and its IGMP / MLD reports would carry the VMAC:
 * a switch would then send the master's traffic to the backup's port. keepalived (vrrp_nftables.c
 * setup_rule_move_igmp) has nftables re-send them from the parent and drop the originals, and drop
 * router solicitations from the macvlan; igmpRules below does the same, one table per macvlan.
 */

/** VMAC_PREFIX is the IANA VRRP virtual MAC prefix of each family (RFC 5798 §7.3). */
export const VMAC_PREFIX: Readonly<Record<Family, string>> = { ipv4: '00:00:5e:00:01', ipv6: '00:00:5e:00:02' };

/**
 * vmacAddress is the virtual MAC of a VRID, or the configured one — which keepalived.conf(5) lets
 * have 5 octets, the VRID then being the sixth.
 */
export function vmacAddress(family: Family, vrid: number, chosen?: string): string {
  if (!Number.isInteger(vrid) || vrid < 1 || vrid > 255) throw new RangeError(`VRID ${vrid} is not 1..255`);
  const prefix = chosen ?? VMAC_PREFIX[family];
  const octets = parseMac(prefix);
  if (octets.length === 5) return formatMac(Uint8Array.of(...octets, vrid));
  if (octets.length === 6) return formatMac(octets);
  throw new RangeError(`use_vmac ${prefix}: not a MAC address of 5 or 6 octets`);
}

/** vmacName is the macvlan's name: the configured one, or keepalived's default vrrp.<VRID>. */
export function vmacName(vrid: number, chosen?: string): string {
  return chosen ?? `vrrp.${vrid}`;
}

/** Setting is one /proc/sys value (path relative to /proc/sys, slash-separated). */
export interface Setting {
  readonly path: string;
  readonly value: number;
}

/** vmacSettings are what the macvlan itself gets (before it is brought up). */
export function vmacSettings(family: Family, vmac: string): Setting[] {
  if (family === 'ipv6') return [{ path: `net/ipv6/conf/${vmac}/addr_gen_mode`, value: 1 /* IN6_ADDR_GEN_MODE_NONE */ }];
  return [
    { path: `net/ipv4/conf/${vmac}/arp_ignore`, value: 1 },
    { path: `net/ipv4/conf/${vmac}/accept_local`, value: 1 },
    { path: `net/ipv4/conf/${vmac}/rp_filter`, value: 0 },
    { path: `net/ipv4/conf/${vmac}/promote_secondaries`, value: 1 },
    { path: `net/ipv6/conf/${vmac}/disable_ipv6`, value: 1 },
  ];
}

/** parentSettings are what the parent of an IPv4 instance's macvlan gets while it exists. */
export function parentSettings(parent: string): Setting[] {
  return [
    { path: `net/ipv4/conf/${parent}/arp_ignore`, value: 1 },
    { path: `net/ipv4/conf/${parent}/arp_filter`, value: 1 },
  ];
}

/**
 * igmpRules is the nftables table of one macvlan: its IGMP (IPv4) or MLDv2 reports (IPv6) are
 * duplicated onto the parent and dropped, and (IPv6) its router solicitations dropped.
 */
export function igmpRules(family: Family, vmac: string, parent: string): { table: string; ruleset: string } {
  const table = `keepstated_vmac_${vmac.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const fam = family === 'ipv4' ? 'ip' : 'ip6';
  const q = (n: string): string => `"${n}"`;
  const rules =
    family === 'ipv4'
      ? [`oifname ${q(vmac)} ip protocol igmp dup to ip daddr device ${q(parent)} drop`]
      : [`oifname ${q(vmac)} icmpv6 type mld2-listener-report dup to ip6 daddr device ${q(parent)} drop`, `oifname ${q(vmac)} icmpv6 type nd-router-solicit drop`];
  const ruleset = `table ${fam} ${table} {\n  chain out {\n    type filter hook output priority 0; policy accept;\n${rules.map((r) => `    ${r}\n`).join('')}  }\n}\n`;
  return { table: `${fam} ${table}`, ruleset };
}

/** SysctlPort reads and writes /proc/sys values of the namespace the failover manager works in. */
export interface SysctlPort {
  read(path: string): number | undefined;
  write(path: string, value: number): void;
  /** list names the entries of a /proc/sys directory (interfaces under net/ipv4/conf). */
  list(dir: string): string[];
  /** nft runs nft(8) in the namespace with `args`, `input` on its standard input. */
  nft(args: readonly string[], input?: string): void;
}

/**
 * procSysctl is the SysctlPort of this process's namespace (/proc/sys/net is the opener's
 * namespace), or of a named one through `ip netns exec NS sysctl` (procps accepts slash-separated
 * keys, which keeps the dots in names like vrrp.51).
 */
export function procSysctl(netns?: string): SysctlPort {
  if (netns === undefined) {
    return {
      read: (p) => {
        try {
          return Number(readFileSync(`/proc/sys/${p}`, 'utf8').trim());
        } catch {
          return undefined;
        }
      },
      write: (p, v) => writeFileSync(`/proc/sys/${p}`, String(v)),
      list: (d) => readdirSync(`/proc/sys/${d}`),
      nft: (args, input) => void execFileSync('nft', args, { input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] }),
    };
  }
  const inNs = (args: readonly string[], input = ''): string => execFileSync('ip', ['netns', 'exec', netns, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  return {
    read: (p) => {
      try {
        return Number(inNs(['sysctl', '-n', p]).trim());
      } catch {
        return undefined;
      }
    },
    write: (p, v) => void inNs(['sysctl', '-q', '-w', `${p}=${v}`]),
    list: (d) => inNs(['ls', '-1', `/proc/sys/${d}`]).split('\n').filter((x) => x !== ''),
    nft: (args, input) => void inNs(['nft', ...args], input),
  };
}

export type VmacLog = (level: 'warning' | 'info', message: string) => void;

/**
 * VmacHost keeps what the macvlans of one namespace changed on shared objects — the parents'
 * arp_ignore/arp_filter (counted per parent, as keepalived's reset_arp_config) and
 * net.ipv4.conf.all/default.rp_filter — and puts them back when the last one goes.
 */
export class VmacHost {
  private readonly parents = new Map<string, { users: number; saved: Setting[] }>();
  private rpFilter: { users: number; saved: Setting[] } | undefined;

  constructor(
    readonly sysctl: SysctlPort,
    readonly log: VmacLog,
  ) {}

  /** holdParent sets the parent's ARP settings (first user) and counts the user. */
  holdParent(parent: string): void {
    const p = this.parents.get(parent);
    if (p !== undefined) {
      p.users++;
      return;
    }
    this.parents.set(parent, { users: 1, saved: this.apply(parentSettings(parent)) });
  }

  releaseParent(parent: string): void {
    const p = this.parents.get(parent);
    if (p === undefined || --p.users > 0) return;
    this.parents.delete(parent);
    this.restore(p.saved);
  }

  /**
   * holdRpFilter: when all.rp_filter is on, raise default and every interface below it to its
   * value (nothing changes for them: the kernel uses the larger of all and the interface), then
   * set all to 0 so that the macvlans' rp_filter=0 counts (keepalived's clear_rp_filter).
   */
  holdRpFilter(): void {
    if (this.rpFilter !== undefined) {
      this.rpFilter.users++;
      return;
    }
    const all = this.sysctl.read('net/ipv4/conf/all/rp_filter');
    const saved: Setting[] = [];
    if (all !== undefined && all > 0) {
      const settings: Setting[] = [];
      for (const name of this.sysctl.list('net/ipv4/conf')) {
        if (name === 'all') continue;
        const v = this.sysctl.read(`net/ipv4/conf/${name}/rp_filter`);
        if (v !== undefined && v < all) settings.push({ path: `net/ipv4/conf/${name}/rp_filter`, value: all });
      }
      settings.push({ path: 'net/ipv4/conf/all/rp_filter', value: 0 });
      this.log('info', `use_vmac: net.ipv4.conf.all.rp_filter ${all} → 0 (default and interfaces raised to ${all})`);
      saved.push(...this.apply(settings));
    }
    this.rpFilter = { users: 1, saved };
  }

  releaseRpFilter(): void {
    if (this.rpFilter === undefined || --this.rpFilter.users > 0) return;
    // all first, as it was; the interfaces keep the raised value, which changes nothing while all is on.
    this.restore(this.rpFilter.saved.filter((s) => s.path === 'net/ipv4/conf/all/rp_filter' || s.path === 'net/ipv4/conf/default/rp_filter'));
    this.rpFilter = undefined;
  }

  /** apply writes settings and returns the values they replaced (only those it changed). */
  apply(settings: readonly Setting[]): Setting[] {
    const saved: Setting[] = [];
    for (const s of settings) {
      const before = this.sysctl.read(s.path);
      if (before === s.value) continue;
      try {
        this.sysctl.write(s.path, s.value);
        if (before !== undefined) saved.push({ path: s.path, value: before });
      } catch (e) {
        this.log('warning', `use_vmac: cannot set ${s.path.replaceAll('/', '.')} to ${s.value}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return saved;
  }

  restore(saved: readonly Setting[]): void {
    for (const s of [...saved].reverse()) {
      try {
        this.sysctl.write(s.path, s.value);
      } catch (e) {
        this.log('warning', `use_vmac: cannot put ${s.path.replaceAll('/', '.')} back to ${s.value}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}

/** VmacSpec is one instance's use_vmac. */
export interface VmacSpec {
  readonly instance: string;
  readonly family: Family;
  readonly vrid: number;
  readonly parent: string;
  readonly parentIfindex: number;
  readonly name?: string;
  readonly mac?: string;
  /** linkLocal is the IPv6 address to give the macvlan (IPv6 instances sending from it). */
  readonly linkLocal?: string;
}

/** Vmac is a created (or reused) use_vmac macvlan, up, with its settings. */
export class Vmac {
  private removed = false;
  private nftTable: string | undefined;

  private constructor(
    readonly spec: VmacSpec,
    readonly ifname: string,
    readonly ifindex: number,
    readonly mac: string,
    private readonly rtnl: RtnlClient,
    private readonly host: VmacHost,
  ) {}

  /**
   * create makes the macvlan. One of that name that is a private macvlan of the same parent and
   * MAC is reused (a previous run's); another macvlan of that name is replaced; anything else is
   * an error (keepalived: "VMAC … conflicts with existing interface").
   */
  static async create(rtnl: RtnlClient, host: VmacHost, spec: VmacSpec): Promise<Vmac> {
    const ifname = vmacName(spec.vrid, spec.name);
    const mac = vmacAddress(spec.family, spec.vrid, spec.mac);
    const req = { name: ifname, parentIfindex: spec.parentIfindex, mac, mode: MACVLAN_MODE.PRIVATE };
    if ((await rtnl.createMacvlan(req)) === 'present') {
      const old = (await rtnl.listLinks()).find((l) => l.ifname === ifname);
      if (old === undefined || old.linkInfo?.kind !== 'macvlan') throw new Error(`(${spec.instance}) use_vmac: ${ifname} conflicts with an existing interface that is no macvlan`);
      if (old.link !== spec.parentIfindex || old.address !== mac || old.linkInfo.macvlanMode !== MACVLAN_MODE.PRIVATE) {
        await rtnl.deleteLink(old.ifindex);
        await rtnl.createMacvlan(req);
      }
    }
    const link = (await rtnl.listLinks()).find((l) => l.ifname === ifname);
    if (link === undefined) throw new Error(`(${spec.instance}) use_vmac: ${ifname} vanished after it was created`);
    const v = new Vmac(spec, ifname, link.ifindex, mac, rtnl, host);
    try {
      host.apply(vmacSettings(spec.family, ifname));
      if (spec.family === 'ipv4') {
        host.holdParent(spec.parent);
        host.holdRpFilter();
      }
      v.moveReports(ifname);
      await rtnl.setLinkUp(link.ifindex, true);
      if (spec.family === 'ipv6' && spec.linkLocal !== undefined) {
        await rtnl.addAddress({ ifindex: link.ifindex, family: 'ipv6', address: spec.linkLocal, prefixLen: 64, nodad: true });
      }
    } catch (e) {
      await v.remove();
      throw e;
    }
    return v;
  }

  /** moveReports loads igmpRules (before the macvlan is up and joins anything); failure is logged. */
  private moveReports(ifname: string): void {
    const r = igmpRules(this.spec.family, ifname, this.spec.parent);
    try {
      this.host.sysctl.nft(['-f', '-'], r.ruleset);
      this.nftTable = r.table;
    } catch (e) {
      this.host.log('warning', `(${this.spec.instance}) use_vmac: no nftables rule moving ${this.spec.family === 'ipv4' ? 'IGMP' : 'MLD'} reports off ${ifname} (switches may learn the VMAC from a backup): ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** remove deletes the macvlan (its VIPs go with it) and puts the parent's settings back. */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    if (this.nftTable !== undefined) {
      try {
        this.host.sysctl.nft(['delete', 'table', ...this.nftTable.split(' ')]);
      } catch (e) {
        this.host.log('warning', `(${this.spec.instance}) use_vmac: removing nftables table ${this.nftTable}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (this.spec.family === 'ipv4') {
      this.host.releaseParent(this.spec.parent);
      this.host.releaseRpFilter();
    }
    await this.rtnl.deleteLink(this.ifindex);
  }
}
