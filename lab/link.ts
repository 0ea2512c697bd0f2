import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Netns } from './netns.js';

/** Endpoint is one side of a veth link: its namespace, interface name and address with prefix. */
export interface Endpoint {
  readonly ns: Netns;
  readonly ifname: string;
  readonly cidr: string; // e.g. "10.231.1.1/24" or "fd31:1::1/64"
}

/**
 * linkVeth creates a veth pair between two namespaces, names both ends, assigns the addresses and
 * brings the links up. The pair disappears with either namespace.
 */
export function linkVeth(a: Endpoint, b: Endpoint): void {
  const tmpA = `ksv${randomBytes(4).toString('hex')}`;
  const tmpB = `ksv${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
  try {
    execFileSync('ip', ['link', 'set', tmpA, 'netns', a.ns.name]);
    execFileSync('ip', ['link', 'set', tmpB, 'netns', b.ns.name]);
  } catch (e) {
    execFileSync('ip', ['link', 'del', tmpA], { stdio: 'ignore' });
    throw e;
  }
  for (const [ep, tmp] of [
    [a, tmpA],
    [b, tmpB],
  ] as const) {
    ep.ns.exec('ip', ['link', 'set', tmp, 'name', ep.ifname]);
    ep.ns.exec('ip', ['addr', 'add', ep.cidr, 'dev', ep.ifname, ...(ep.cidr.includes(':') ? ['nodad'] : [])]);
    ep.ns.exec('ip', ['link', 'set', ep.ifname, 'up']);
  }
}

/** nft loads an nftables ruleset (text) into a namespace. */
export function nft(ns: Netns, ruleset: string): void {
  ns.exec('nft', ['-f', '-'], ruleset);
}
