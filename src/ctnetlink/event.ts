import { NLM_F } from '../netlink/consts.js';
import type { NlMessage } from '../netlink/message.js';
import { DecodeError } from '../wire/decode-error.js';
import { IPCTNL_MSG_CT, IPCTNL_MSG_EXP, NFNL_SUBSYS } from './consts.js';
import { decodeConntrack, encodeConntrack } from './conntrack.js';
import { decodeExpectation, encodeExpectation } from './expectation.js';
import { nfMsg, nfMsgType, nfSubsys } from './nfgenmsg.js';
import type { CtEvent, CtEventKind, ExpEvent } from './types.js';

/**
 * NEW and UPDATE events share IPCTNL_MSG_CT_NEW (IPCTNL_MSG_EXP_NEW for expectations); the kernel
 * marks a NEW one with NLM_F_CREATE|NLM_F_EXCL (ctnetlink_conntrack_event / ctnetlink_expect_event).
 */
const NEW_FLAGS = NLM_F.CREATE | NLM_F.EXCL;

function kindOf(msg: NlMessage, subsys: number, newType: number, deleteType: number, what: string): CtEventKind {
  if (nfSubsys(msg.type) !== subsys) {
    throw new DecodeError('BAD_VALUE', [what], 0, `nlmsg_type 0x${msg.type.toString(16)} is not from subsystem ${subsys}`);
  }
  const t = nfMsg(msg.type);
  if (t === deleteType) return 'destroy';
  if (t === newType) return (msg.flags & NEW_FLAGS) !== 0 ? 'new' : 'update';
  throw new DecodeError('BAD_VALUE', [what], 0, `message type ${t} is not an event`);
}

/**
 * ctEventKind tells what a message from the conntrack event groups reports, from its header alone;
 * undefined for anything that is not a conntrack event.
 */
export function ctEventKind(type: number, flags: number): CtEventKind | undefined {
  if (nfSubsys(type) !== NFNL_SUBSYS.CTNETLINK) return undefined;
  const t = nfMsg(type);
  if (t === IPCTNL_MSG_CT.DELETE) return 'destroy';
  if (t === IPCTNL_MSG_CT.NEW) return (flags & NEW_FLAGS) !== 0 ? 'new' : 'update';
  return undefined;
}

/** decodeCtEvent decodes a conntrack event (a message from the NFNLGRP_CONNTRACK_* groups). */
export function decodeCtEvent(msg: NlMessage): CtEvent {
  const kind = kindOf(msg, NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.NEW, IPCTNL_MSG_CT.DELETE, 'ctEvent');
  return { kind, ct: decodeConntrack(msg.payload), portId: msg.pid };
}

/** decodeExpEvent decodes an expectation event (NFNLGRP_CONNTRACK_EXP_*). */
export function decodeExpEvent(msg: NlMessage): ExpEvent {
  const kind = kindOf(msg, NFNL_SUBSYS.CTNETLINK_EXP, IPCTNL_MSG_EXP.NEW, IPCTNL_MSG_EXP.DELETE, 'expEvent');
  return { kind, exp: decodeExpectation(msg.payload), portId: msg.pid };
}

/** EncodedEvent is the nlmsghdr type, flags and pid and the payload of an event as the kernel would send it. */
export interface EncodedEvent {
  readonly type: number;
  readonly flags: number;
  readonly pid: number;
  readonly payload: Uint8Array;
}

/**
 * encodeCtEvent encodes a conntrack event the way the kernel does (type, flags and attribute order
 * of ctnetlink_conntrack_event), the inverse of decodeCtEvent. Used by tests and by fakes that
 * stand in for the kernel at the message boundary.
 */
export function encodeCtEvent(ev: CtEvent): EncodedEvent {
  const destroy = ev.kind === 'destroy';
  return {
    type: nfMsgType(NFNL_SUBSYS.CTNETLINK, destroy ? IPCTNL_MSG_CT.DELETE : IPCTNL_MSG_CT.NEW),
    flags: ev.kind === 'new' ? NEW_FLAGS : 0,
    pid: ev.portId ?? 0,
    payload: encodeConntrack(ev.ct, destroy ? 'destroy' : 'event'),
  };
}

/** encodeExpEvent encodes an expectation event as ctnetlink_expect_event does, the inverse of decodeExpEvent. */
export function encodeExpEvent(ev: ExpEvent): EncodedEvent {
  return {
    type: nfMsgType(NFNL_SUBSYS.CTNETLINK_EXP, ev.kind === 'destroy' ? IPCTNL_MSG_EXP.DELETE : IPCTNL_MSG_EXP.NEW),
    flags: ev.kind === 'new' ? NEW_FLAGS : 0,
    pid: ev.portId ?? 0,
    payload: encodeExpectation(ev.exp, 'kernel'),
  };
}
