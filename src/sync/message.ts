import type { Conntrack, Expectation } from '../ctnetlink/types.js';
import { DecodeError } from '../wire/decode-error.js';
import { Writer } from '../wire/writer.js';
import { be32, type Path } from './attrs.js';
import { decodeConntrackBody, encodeConntrackBody, type SyncEncodeOptions } from './conntrack.js';
import { CT_KEY_MAX, scanCtBodyKey } from './ct-body.js';
import { NET_F, NET_T, NETHDR_ACK_SIZ, NETHDR_SIZ, SYNC_MAX_MESSAGE, SYNC_VERSION } from './consts.js';
import { decodeExpectationBody, encodeExpectationBody } from './expectation.js';
import { decodeSyncHeader, seqBefore, versionByte } from './header.js';

/**
 * SyncMessage is one conntrackd message, typed. `seq` is the sender's u32 sequence number and
 * `flags` the whole NET_F_* byte as on the wire (HELLO 0x20 and HELLO_BACK 0x40 ride on any
 * message; a control message's own bit — ACK, NACK, RESYNC, ALIVE — is part of it too).
 *
 * - ct: CT_NEW / CT_UPD / CT_DEL ('new' | 'upd' | 'del'), body = conntrack attributes (conntrack.ts).
 *   conntrackd picks the type from the cached object's state at send time, not from the event:
 *   a receiver must take 'upd' of an unknown flow as a create and 'new' of a known one as a
 *   replacement; 'del' carries the full last state.
 * - exp: EXP_NEW / EXP_UPD / EXP_DEL, body = expectation attributes (expectation.ts).
 * - ack: the sender got the peer's messages [from, to]; nack: it misses [from, to] and asks for them
 *   again (conntrackd resends the current state of those objects under new sequence numbers).
 * - resync: "send me everything"; conntrackd sends from = to = 0.
 * - alive: keep-alive, 8 bytes.
 */
export type SyncOp = 'new' | 'upd' | 'del';

export interface SyncCtMessage {
  readonly kind: 'ct';
  readonly op: SyncOp;
  readonly seq: number;
  readonly flags: number;
  readonly ct: Conntrack;
}
export interface SyncExpMessage {
  readonly kind: 'exp';
  readonly op: SyncOp;
  readonly seq: number;
  readonly flags: number;
  readonly exp: Expectation;
}
export interface SyncRangeMessage {
  readonly kind: 'ack' | 'nack' | 'resync';
  readonly seq: number;
  readonly flags: number;
  readonly from: number;
  readonly to: number;
}
export interface SyncAliveMessage {
  readonly kind: 'alive';
  readonly seq: number;
  readonly flags: number;
}
export type SyncMessage = SyncCtMessage | SyncExpMessage | SyncRangeMessage | SyncAliveMessage;
export type SyncKind = SyncMessage['kind'];

/** SyncMode is the replication protocol; it decides which control messages a receiver accepts. */
export type SyncMode = 'ftfw' | 'notrack' | 'alarm';

export interface SyncDecodeOptions {
  /** Receiver's protocol (default 'ftfw'): NOTRACK refuses ACK/NACK, ALARM ignores any flagged message. */
  readonly mode?: SyncMode;
}

const OPS: readonly SyncOp[] = ['new', 'upd', 'del'];
const DATA_FLAGS = NET_F.HELLO | NET_F.HELLO_BACK;

/** Classification of a header by a receiver: a message kind, or why it is refused. */
export type SyncClass = 'data' | 'ack' | 'nack' | 'resync' | 'alive' | 'bad-header' | 'bad-type' | 'ignored';

/**
 * classifySync is the receiver's `recv` step on a header (sync-ftfw.c / sync-notrack.c digest_msg,
 * sync-alarm.c alarm_recv): data ⇔ type ≤ 5 and no flag but HELLO/HELLO_BACK; else on type CTL the
 * first of ACK, NACK, RESYNC, ALIVE that is set (NOTRACK knows only RESYNC and ALIVE); anything else
 * is a malformed header. ALARM: any flag → silently ignored (a well-formed control message is still
 * reported as such, so the caller may follow the channel), a type > 5 → bad message type.
 */
export function classifySync(type: number, flags: number, mode: SyncMode = 'ftfw'): SyncClass {
  const ftfw = classifyFtfw(type, flags);
  if (mode === 'ftfw') return ftfw;
  if (mode === 'notrack') return ftfw === 'ack' || ftfw === 'nack' ? 'bad-header' : ftfw;
  if (flags !== 0) return ftfw === 'data' || ftfw === 'bad-header' ? 'ignored' : ftfw;
  return type > NET_T.STATE_MAX ? 'bad-type' : 'data';
}

function classifyFtfw(type: number, flags: number): SyncClass {
  if (type <= NET_T.STATE_MAX && (flags & ~DATA_FLAGS) === 0) return 'data';
  if (type !== NET_T.CTL) return 'bad-header';
  if (flags & NET_F.ACK) return 'ack';
  if (flags & NET_F.NACK) return 'nack';
  if (flags & NET_F.RESYNC) return 'resync';
  if (flags & NET_F.ALIVE) return 'alive';
  return 'bad-header';
}

const KIND_BIT = { ack: NET_F.ACK, nack: NET_F.NACK, resync: NET_F.RESYNC, alive: NET_F.ALIVE } as const;

/**
 * writeSyncMessage appends one message to `w` and returns its length. Throws RangeError (an
 * encoder precondition, not a decode error) when the flags would make a receiver classify the
 * message as something else (data with a control bit; a control kind whose bit is outranked), or
 * when the message exceeds conntrackd's 4096-byte message buffer; `w` then holds a partial message.
 */
export function writeSyncMessage(w: Writer, msg: SyncMessage, opts?: SyncEncodeOptions): number {
  const at = w.length;
  switch (msg.kind) {
    case 'ct':
    case 'exp': {
      if ((msg.flags & ~DATA_FLAGS) !== 0) throw new RangeError(`flags 0x${msg.flags.toString(16)} would not be data`);
      const type = (msg.kind === 'ct' ? NET_T.STATE_CT_NEW : NET_T.STATE_EXP_NEW) + OPS.indexOf(msg.op);
      w.u8(versionByte(type)).u8(msg.flags).u16be(0).u32be(msg.seq);
      if (msg.kind === 'ct') encodeConntrackBody(w, msg.ct, opts);
      else encodeExpectationBody(w, msg.exp, opts);
      break;
    }
    case 'ack':
    case 'nack':
    case 'resync':
    case 'alive': {
      const flags = (msg.flags | KIND_BIT[msg.kind]) & 0xff;
      if (classifyFtfw(NET_T.CTL, flags) !== msg.kind) throw new RangeError(`flags 0x${flags.toString(16)} would not be ${msg.kind}`);
      w.u8(versionByte(NET_T.CTL)).u8(flags).u16be(0).u32be(msg.seq);
      if (msg.kind !== 'alive') w.u32be(msg.from).u32be(msg.to);
      break;
    }
    default:
      return assertNever(msg);
  }
  const len = w.length - at;
  if (len > SYNC_MAX_MESSAGE) throw new RangeError(`message of ${len} bytes exceeds conntrackd's ${SYNC_MAX_MESSAGE}`);
  const b = w.written();
  b[at + 2] = len >>> 8;
  b[at + 3] = len & 0xff;
  return len;
}

const scratch = new Writer(SYNC_MAX_MESSAGE);

/** encodeSyncMessage encodes one message into a new byte array (see writeSyncMessage). */
export function encodeSyncMessage(msg: SyncMessage, opts?: SyncEncodeOptions): Uint8Array {
  scratch.reset();
  writeSyncMessage(scratch, msg, opts);
  return scratch.finish();
}

/**
 * decodeSyncMessage decodes exactly one message filling `bytes`. Throws DecodeError only: SHORT /
 * BAD_LENGTH / TRAILING for a len that disagrees with the bytes, BAD_VALUE for a wrong version, a
 * header the receiver refuses (classifySync) or an FTFW ACK/NACK whose `to` is before its `from`,
 * and the body's errors (BAD_LENGTH, BAD_VALUE,
 * BAD_SIZE, MISSING — see conntrack.ts / expectation.ts).
 */
export function decodeSyncMessage(bytes: Uint8Array, opts?: SyncDecodeOptions): SyncMessage {
  const h = decodeSyncHeader(bytes, 0, bytes.length);
  const min = h.from !== undefined ? NETHDR_ACK_SIZ : NETHDR_SIZ;
  if (h.len < min) throw new DecodeError('BAD_LENGTH', ['sync', 'header', 'len'], 2, `len ${h.len} is shorter than the ${min}-byte header`);
  if (h.len > bytes.length) throw new DecodeError('SHORT', ['sync', 'header', 'len'], 2, `len ${h.len}, only ${bytes.length} bytes`);
  if (h.len < bytes.length) throw new DecodeError('TRAILING', ['sync'], h.len, `${bytes.length - h.len} bytes after the message`);
  if (h.version !== SYNC_VERSION) throw new DecodeError('BAD_VALUE', ['sync', 'header', 'version'], 0, `protocol version ${h.version}, want ${SYNC_VERSION}`);
  const c = classifySync(h.type, h.flags, opts?.mode);
  if (c === 'bad-header' || c === 'bad-type' || c === 'ignored') {
    throw new DecodeError('BAD_VALUE', ['sync', 'header', 'flags'], 1, `type ${h.type} with flags 0x${h.flags.toString(16)}: ${c}`);
  }
  if ((opts?.mode ?? 'ftfw') === 'ftfw' && (c === 'ack' || c === 'nack') && seqBefore(h.to!, h.from!)) {
    throw new DecodeError('BAD_VALUE', ['sync', 'header', 'to'], 12, `${c} range ends (${h.to}) before it starts (${h.from})`);
  }
  return decodeSyncBody(bytes, 0, h.type, h.flags, h.len, h.seq, c);
}

/**
 * SyncBodyDecoder builds the message at `off` whose header fields the receive walk has read and
 * checked (`len` within the bytes and at least its header's size; a range form's 16 bytes there);
 * it throws DecodeError only.
 */
export type SyncBodyDecoder<M> = (b: Uint8Array, off: number, type: number, flags: number, len: number, seq: number, c: 'data' | 'ack' | 'nack' | 'resync' | 'alive') => M;

/** decodeSyncBody is the SyncBodyDecoder of typed messages. */
export const decodeSyncBody: SyncBodyDecoder<SyncMessage> = (b, off, type, flags, len, seq, c) => {
  if (c === 'data') {
    const end = off + len;
    if (type <= NET_T.STATE_CT_DEL) {
      return { kind: 'ct', op: OPS[type]!, seq, flags, ct: decodeConntrackBody(b, off + NETHDR_SIZ, end, CT_PATH) };
    }
    return { kind: 'exp', op: OPS[type - NET_T.STATE_EXP_NEW]!, seq, flags, exp: decodeExpectationBody(b, off + NETHDR_SIZ, end, EXP_PATH) };
  }
  if (c === 'alive') return { kind: 'alive', seq, flags };
  return { kind: c, seq, flags, from: be32(b, off + 8), to: be32(b, off + 12) };
};

/**
 * SyncCtRawMessage is a conntrack message a receiver keeps undecoded: where its validated body
 * lies in the received bytes, and the entry's identity (scanCtBodyKey) as bytes of rawKeys().
 * decodeConntrackBody of the body gives the model. The message object itself, its body and its
 * identity stay valid only until the next receive walk (decodeDatagramLazy), which reuses them:
 * the caller applies the messages before reading the next datagram.
 */
export interface SyncCtRawMessage {
  readonly kind: 'ct-raw';
  readonly op: SyncOp;
  readonly seq: number;
  readonly flags: number;
  /** The received bytes; the body is [start, end). */
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
  /** The identity is bytes [keyAt, keyAt + keyLen) of rawKeys(). */
  readonly keyAt: number;
  readonly keyLen: number;
}
export type SyncLazyMessage = Exclude<SyncMessage, SyncCtMessage> | SyncCtRawMessage;

/** The identities of one receive walk's conntrack messages, back to back (a walk starts them anew: resetRawKeys). */
let rawKeyBytes = new Uint8Array(4096);
let rawKeysEnd = 0;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
/** One receive walk's conntrack messages, reused by the next: no object per message received. */
const rawMessages: Mutable<SyncCtRawMessage>[] = [];
let rawMessagesUsed = 0;

/** rawKeys is the buffer the last receive walk wrote its messages' identities into (SyncCtRawMessage.keyAt). */
export function rawKeys(): Uint8Array {
  return rawKeyBytes;
}

/** resetRawKeys starts a receive walk: the identities and messages of the previous one are dropped. */
export function resetRawKeys(): void {
  rawKeysEnd = 0;
  rawMessagesUsed = 0;
}

/** decodeSyncBodyLazy is decodeSyncBody with conntrack bodies validated and kept as bytes. */
export const decodeSyncBodyLazy: SyncBodyDecoder<SyncLazyMessage> = (b, off, type, flags, len, seq, c) => {
  if (c === 'data' && type <= NET_T.STATE_CT_DEL) {
    const start = off + NETHDR_SIZ;
    const end = off + len;
    if (rawKeyBytes.length - rawKeysEnd < CT_KEY_MAX) {
      const grown = new Uint8Array(2 * rawKeyBytes.length);
      grown.set(rawKeyBytes.subarray(0, rawKeysEnd));
      rawKeyBytes = grown;
    }
    const keyAt = rawKeysEnd;
    const keyLen = scanCtBodyKey(b, start, end, rawKeyBytes, keyAt, CT_PATH);
    rawKeysEnd += keyLen;
    let m = rawMessages[rawMessagesUsed];
    if (m === undefined) {
      m = { kind: 'ct-raw', op: 'new', seq: 0, flags: 0, bytes: b, start: 0, end: 0, keyAt: 0, keyLen: 0 };
      rawMessages.push(m);
    }
    rawMessagesUsed++;
    m.op = OPS[type]!;
    m.seq = seq;
    m.flags = flags;
    m.bytes = b;
    m.start = start;
    m.end = end;
    m.keyAt = keyAt;
    m.keyLen = keyLen;
    return m;
  }
  return decodeSyncBody(b, off, type, flags, len, seq, c) as SyncLazyMessage; // not a conntrack message: handled above
};

const CT_PATH: Path = ['sync', 'ct'];
const EXP_PATH: Path = ['sync', 'exp'];

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}
