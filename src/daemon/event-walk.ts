import { forEachDatagram } from '../native/batch.js';
import { forEachNlMessage } from '../netlink/message.js';

/**
 * EventWalk is where a walk through one receive batch of the event socket stopped: `next` is the
 * datagram to resume from (`count` when the batch is done), `events` how many messages it handed
 * out, `malformed` how many records it could not walk.
 */
export interface EventWalk {
  readonly next: number;
  readonly events: number;
  readonly malformed: number;
}

/**
 * walkEventBatch hands the netlink messages of datagrams [from, count) of an addon batch to `fn`,
 * stopping after the datagram that brings the messages handed out to `budget` (EventIterationLimit:
 * conntrackd goes back to its select loop once that many events are handled, the rest staying
 * queued). The kernel sends one event per datagram, so a stop falls between events. Datagrams
 * before `from` are skipped by their headers alone.
 */
export function walkEventBatch(
  batch: Uint8Array,
  count: number,
  from: number,
  budget: number,
  fn: (type: number, flags: number, pid: number, start: number, end: number) => void,
): EventWalk {
  let i = 0;
  let next = count;
  let events = 0;
  let malformed = 0;
  const onMessage = (type: number, flags: number, pid: number, start: number, end: number): void => {
    events++;
    fn(type, flags, pid, start, end);
  };
  const ok = forEachDatagram(batch, count, (start, end) => {
    const at = i++;
    if (at < from || next !== count) return;
    if (!forEachNlMessage(batch, start, end, onMessage)) malformed++;
    if (events >= budget && at + 1 < count) next = at + 1;
  });
  if (!ok) malformed++;
  return { next, events, malformed };
}
