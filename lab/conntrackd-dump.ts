/**
 * Parsing what `conntrackd -e` / `-i` print: libnetfilter_conntrack's default one-line format
 * (NFCT_O_DEFAULT) followed by conntrackd's " [active since Ns]". The external cache has no reply
 * tuple, so each key of the original tuple appears once:
 *
 *   tcp      6 SYN_SENT src=10.80.0.10 dst=203.0.113.9 sport=1034 dport=443 [UNREPLIED] mark=7 zone=2 [active since 2s]
 *   icmp     1 src=10.80.0.4 dst=203.0.113.9 type=8 code=0 id=4664 [ASSURED] mark=0 [active since 2s]
 *
 * Labels, NAT, the timeout and the full status are not printed: they show only after a commit.
 */
export interface DumpLine {
  readonly protoName: string; // "tcp", "udp", "icmp", "icmpv6", …
  readonly proto: number;
  readonly state?: string; // the TCP / SCTP / DCCP state, e.g. "ESTABLISHED"
  /** key=value pairs in order of appearance (src, dst, sport, dport, type, code, id, mark, zone, helper, …). */
  readonly fields: Readonly<Record<string, string>>;
  /** [FLAG] words in order ("UNREPLIED", "ASSURED", …), without conntrackd's "active since". */
  readonly flags: readonly string[];
}

/** parseDumpLine parses one line; undefined for blank or unrecognisable lines. A key seen twice (a reply tuple) is an error. */
export function parseDumpLine(line: string): DumpLine | undefined {
  const m = /^(\S+)\s+(\d+)\s+(.*)$/.exec(line.trim());
  if (m === null) return undefined;
  const rest = m[3]!.replace(/\s*\[active since \d+s\]$/, '');
  const fields: Record<string, string> = {};
  const flags: string[] = [];
  let state: string | undefined;
  for (const tok of rest.split(/\s+/)) {
    if (tok === '') continue;
    const kv = /^([a-z][a-z0-9-]*)=(.*)$/.exec(tok);
    if (kv !== null) {
      if (kv[1]! in fields) throw new Error(`${kv[1]} twice in: ${line}`);
      fields[kv[1]!] = kv[2]!;
    } else if (/^\[[A-Z_]+\]$/.test(tok)) flags.push(tok.slice(1, -1));
    else if (/^[A-Z_0-9]+$/.test(tok) && state === undefined && Object.keys(fields).length === 0) state = tok;
    else throw new Error(`unexpected "${tok}" in: ${line}`);
  }
  return { protoName: m[1]!, proto: Number(m[2]), ...(state !== undefined ? { state } : {}), fields, flags };
}
