import { ATTR, AF_INET, AF_INET6, isDnat, isSnat, type CtObj } from './ctobj.js';
import { bswap32, PROTOS, type PrintOpt } from './protos.js';
import { MSG, type MsgType } from './format.js';

/**
 * `-o save` of conntrack 1.4.7 (ct_save_snprintf): each entry as the conntrack command line that
 * would recreate it ("-A -t 431999 -u SEEN_REPLY,ASSURED -s … -p tcp --sport …"), for
 * `conntrack -R` / `--load-file`.
 */

const STATUS_NAMES: readonly (string | undefined)[] = ['EXPECTED', 'SEEN_REPLY', 'ASSURED', undefined, undefined, undefined, undefined, undefined, undefined, undefined, 'FIXED_TIMEOUT'];

const GENERIC: readonly PrintOpt[] = [
  { name: '-t', attr: ATTR.TIMEOUT, type: 'u32' },
  { name: '-u', attr: ATTR.STATUS, type: 'bitmap', map: STATUS_NAMES },
  { name: '-c', attr: ATTR.SECMARK, type: 'u32' },
  { name: '-w', attr: ATTR.ZONE, type: 'u16' },
  { name: '--orig-zone', attr: ATTR.ORIG_ZONE, type: 'u16' },
  { name: '--reply-zone', attr: ATTR.REPL_ZONE, type: 'u16' },
];

/** attrValue reads the field behind an attribute, as nfct_get_attr_* would. */
function attrValue(ct: CtObj, attr: number): number | bigint | string {
  switch (attr) {
    case ATTR.TIMEOUT:
      return ct.timeout;
    case ATTR.STATUS:
      return ct.status;
    case ATTR.SECMARK:
      return ct.secmark;
    case ATTR.ZONE:
      return ct.zone;
    case ATTR.ORIG_ZONE:
      return ct.orig.zone;
    case ATTR.REPL_ZONE:
      return ct.repl.zone;
    case ATTR.ORIG_PORT_SRC:
      return ct.orig.sport;
    case ATTR.ORIG_PORT_DST:
      return ct.orig.dport;
    case ATTR.REPL_PORT_SRC:
      return ct.repl.sport;
    case ATTR.REPL_PORT_DST:
      return ct.repl.dport;
    case ATTR.TCP_STATE:
      return ct.tcpState;
    case ATTR.SCTP_STATE:
      return ct.sctpState;
    // libnetfilter_conntrack keeps the tags in host order and conntrack prints them through
    // ntohl(): the printed value is byte-swapped, as 1.4.7 prints it.
    case ATTR.SCTP_VTAG_ORIG:
      return bswap32(ct.sctpVtag[0]!);
    case ATTR.SCTP_VTAG_REPL:
      return bswap32(ct.sctpVtag[1]!);
    case ATTR.DCCP_STATE:
      return ct.dccpState;
    case ATTR.DCCP_ROLE:
      return ct.dccpRole;
    case ATTR.ICMP_TYPE:
      return ct.orig.icmpType;
    case ATTR.ICMP_CODE:
      return ct.orig.icmpCode;
    case ATTR.ICMP_ID:
      return ct.orig.icmpId;
    case ATTR.ORIG_IPV4_SRC:
    case ATTR.ORIG_IPV6_SRC:
      return ct.orig.src;
    case ATTR.ORIG_IPV4_DST:
    case ATTR.ORIG_IPV6_DST:
      return ct.orig.dst;
    case ATTR.REPL_IPV4_SRC:
    case ATTR.REPL_IPV6_SRC:
      return ct.repl.src;
    case ATTR.REPL_IPV4_DST:
    case ATTR.REPL_IPV6_DST:
      return ct.repl.dst;
    default:
      return 0;
  }
}

/** snprintfOpts is ct_snprintf_opts(): "name value " for every set attribute of the list. */
function snprintfOpts(ct: CtObj, opts: readonly PrintOpt[]): string {
  let s = '';
  for (const o of opts) {
    if (!ct.has(o.attr)) continue;
    const v = attrValue(ct, o.attr);
    s += o.name + ' ';
    if (o.type === 'bitmap') {
      let found = '';
      const map = o.map ?? [];
      for (let i = 0; i < map.length; i++) {
        if ((Number(v) & (1 << i)) === 0 || map[i] === undefined) continue;
        found += map[i] + ',';
      }
      if (found !== '') s += found.slice(0, -1) + ' ';
      else if (o.attr === ATTR.STATUS) s += 'UNSET ';
    } else if (o.type === 'u8' && o.map !== undefined) s += (o.map[Number(v)] ?? '(null)') + ' ';
    else s += String(v) + ' ';
  }
  return s;
}

/** formatSave is ct_save_snprintf(); returns undefined (and the warning) for a family it cannot print. */
export function formatSave(ct: CtObj, msg: MsgType): { line: string } | { warning: string } {
  let s = msg === MSG.NEW ? '-A ' : msg === MSG.UPDATE ? '-U ' : msg === MSG.DESTROY ? '-D ' : '';
  s += snprintfOpts(ct, GENERIC);
  let l3 = ct.has(ATTR.ORIG_L3PROTO) ? ct.orig.l3 : 0;
  if (l3 === 0) l3 = ct.has(ATTR.REPL_L3PROTO) ? ct.repl.l3 : 0;
  if (l3 !== AF_INET && l3 !== AF_INET6) return { warning: `WARNING: unsupported l3proto ${l3}, skipping.\n` };
  const v6 = l3 === AF_INET6;
  const ip: PrintOpt[] = [
    { name: '-s', attr: v6 ? ATTR.ORIG_IPV6_SRC : ATTR.ORIG_IPV4_SRC, type: 'u32' },
    { name: '-d', attr: v6 ? ATTR.ORIG_IPV6_DST : ATTR.ORIG_IPV4_DST, type: 'u32' },
    isDnat(ct) ? { name: '-g', attr: v6 ? ATTR.REPL_IPV6_SRC : ATTR.REPL_IPV4_SRC, type: 'u32' } : { name: '-r', attr: v6 ? ATTR.REPL_IPV6_SRC : ATTR.REPL_IPV4_SRC, type: 'u32' },
    isSnat(ct) ? { name: '-n', attr: v6 ? ATTR.REPL_IPV6_DST : ATTR.REPL_IPV4_DST, type: 'u32' } : { name: '-q', attr: v6 ? ATTR.REPL_IPV6_DST : ATTR.REPL_IPV4_DST, type: 'u32' },
  ];
  s += snprintfOpts(ct, ip);
  const l4 = ct.has(ATTR.ORIG_L4PROTO) ? ct.orig.proto : 0;
  const h = PROTOS.find((p) => p.protonum === l4);
  if (h !== undefined) s += '-p ' + h.name + ' ' + snprintfOpts(ct, h.printOpts);
  else s += '-p ' + l4 + ' ';
  return { line: s.trimEnd() };
}
