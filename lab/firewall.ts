import { nft } from './link.js';
import type { Netns } from './netns.js';

/**
 * NAT_HOOKS registers IPv4 and IPv6 NAT chains (no rules): with them the kernel accepts NAT
 * bindings (CTA_NAT_SRC / CTA_NAT_DST) when an entry is created over ctnetlink — a firewall that
 * replicates NAT'd flows has them anyway.
 */
export const NAT_HOOKS = ['ip', 'ip6']
  .map((f) => `table ${f} nat {\n chain post { type nat hook postrouting priority 100; }\n chain pre { type nat hook prerouting priority -100; }\n}\n`)
  .join('');

/**
 * LABEL_USER is a ruleset that uses `ct label`: the kernel attaches the connlabel extension to new
 * entries (and keeps CTA_LABELS given on create) only while some ruleset uses labels. The rule
 * only counts.
 */
export const LABEL_USER = 'table inet ks_labels {\n chain c {\n  type filter hook prerouting priority 0;\n  ct label 127 counter\n }\n}\n';

/** natAndLabels loads both into `ns`: the firewall a mixed replication test needs on each node. */
export function natAndLabels(ns: Netns): void {
  nft(ns, NAT_HOOKS + LABEL_USER);
}
