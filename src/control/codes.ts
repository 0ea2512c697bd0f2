/**
 * The request codes of conntrackd's control socket (conntrackd-protocol.md §4.2), with the names of
 * conntrack-tools' include/conntrackd.h. A client sends one of them as a native-endian int32; the
 * daemon answers with text and closes the connection.
 */
export const CTL = {
  CT_FLUSH_MASTER: 0, // -F ct: flush the kernel conntrack table (selectively, Filter-excluded entries survive)
  CT_RESYNC_MASTER: 1, // -R ct: reload the internal cache from a kernel dump
  CT_DUMP_INTERNAL: 16, // -i, -i ct
  CT_DUMP_EXTERNAL: 17, // -e, -e ct
  CT_COMMIT: 18, // -c ct
  CT_FLUSH_CACHE: 19, // flush internal and external ct caches (no command-line option)
  KILL: 20, // -k
  STATS: 21, // -s, -s ct
  SEND_BULK: 22, // -B
  REQUEST_DUMP: 23, // -n: ask the peers for a resync
  CT_DUMP_INT_XML: 24, // -i -x
  CT_DUMP_EXT_XML: 25, // -e -x
  RESET_TIMERS: 26, // -t: schedule a kernel flush in PurgeTimeout seconds
  DEBUG_INFO: 27, // unused by conntrackd 1.4.7 (accepted, answers nothing)
  STATS_NETWORK: 28, // -s network
  STATS_CACHE: 29, // -s cache
  STATS_RUNTIME: 30, // -s runtime
  STATS_LINK: 31, // -s link (and the deprecated -s multicast)
  STATS_RSQUEUE: 32, // -s rsqueue
  CT_FLUSH_INT_CACHE: 33, // -f internal
  CT_FLUSH_EXT_CACHE: 34, // -f external
  STATS_PROCESS: 35, // -s process
  STATS_QUEUE: 36, // -s queue
  EXP_STATS: 37, // -s expect
  EXP_FLUSH_MASTER: 38, // -F expect
  EXP_RESYNC_MASTER: 39, // -R expect
  EXP_DUMP_INTERNAL: 40, // -i expect
  EXP_DUMP_EXTERNAL: 41, // -e expect
  EXP_COMMIT: 42, // -c expect
  ALL_FLUSH_MASTER: 43, // -F: kernel conntrack and expectation tables
  ALL_RESYNC_MASTER: 44, // -R: conntracks and expectations
  ALL_FLUSH_CACHE: 45, // -f: every cache (expectation caches too when ExpectationSync is on)
  ALL_COMMIT: 46, // -c: conntracks, then expectations
  EXP_DUMP_INT_XML: 47, // -i expect -x
  EXP_DUMP_EXT_XML: 48, // -e expect -x
} as const;

/** CtlName is the name of a request code. */
export type CtlName = keyof typeof CTL;

/** CtlCode is a request code conntrackd 1.4.7 defines. */
export type CtlCode = (typeof CTL)[CtlName];

const NAMES = new Map<number, CtlName>(Object.entries(CTL).map(([name, code]) => [code, name as CtlName]));

/** isCtlCode tells whether a number is one of the codes conntrackd 1.4.7 defines (2–15 and > 48 are not). */
export function isCtlCode(n: number): n is CtlCode {
  return NAMES.has(n);
}

/** ctlName is the name of a code, or undefined for a number conntrackd does not define. */
export function ctlName(n: number): CtlName | undefined {
  return NAMES.get(n);
}

/**
 * keepstate's `--json` framing, invisible to conntrackd clients: the request is still one
 * native-endian int32, with the magic 0x4b53 ("KS") in its upper 16 bits and the code in the lower
 * 16 (JSON for STATS is 0x4b530015). conntrackd's clients only ever send 0–48, or -1 (0xffffffff)
 * after an unrecognised sub-argument such as `-F qC file`, so no conntrackd request can be read as
 * a JSON one. A conntrackd daemon that receives a JSON request finds no such code and answers
 * nothing: the client then says the daemon does not speak JSON.
 */
export const CTL_JSON_MAGIC = 0x4b53_0000;
const JSON_MASK = 0xffff_0000;

/** encodeRequestWord is the int32 a client sends for `code`, with or without the JSON magic. */
export function encodeRequestWord(code: number, json: boolean): number {
  if (!json) return code | 0;
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new RangeError(`control code ${code} cannot be sent as JSON`);
  return (CTL_JSON_MAGIC | code) | 0;
}

/**
 * keepstate's own requests, outside conntrackd's range and only accepted with the JSON framing
 * (a conntrackd client cannot send them; conntrackd answers them with nothing).
 */
export const KS_CTL = {
  STATUS: 0x0100, // keepstate status: failover instances, sync completeness, queues
} as const;

/** isKsCode tells whether a number is one of keepstate's own request codes. */
export function isKsCode(n: number): boolean {
  return n === KS_CTL.STATUS;
}

/** decodeRequestWord splits a received int32 into the code and whether a JSON reply is asked for. */
export function decodeRequestWord(word: number): { readonly code: number; readonly json: boolean } {
  const u = word >>> 0;
  if ((u & JSON_MASK) >>> 0 === CTL_JSON_MAGIC) return { code: u & 0xffff, json: true };
  return { code: word | 0, json: false };
}
