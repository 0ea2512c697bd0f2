// Event subscription against the real kernel: every kind, pre-existing entries, overrun and recovery.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { enableConntrackEvents, subscribe, subscribeRaw, type EventStream } from '../../src/ctnetlink/events.js';
import { forEachDatagram } from '../../src/native/batch.js';
import type { Conntrack, CtEvent, CtEventKind } from '../../src/ctnetlink/types.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { tcpEntry } from './entries.js';

const skip = rootSkipReason();

/** countUntil reads the stream until `done` says so; a hang guard (not a performance bound) fails the test. */
async function countUntil(
  stream: EventStream,
  done: (counts: Record<CtEventKind | 'overrun', number>) => boolean,
  guardMs = 30_000,
): Promise<Record<CtEventKind | 'overrun', number>> {
  const counts = { new: 0, update: 0, destroy: 0, overrun: 0 };
  const guard = setTimeout(() => stream.close(), guardMs);
  try {
    for await (const b of stream) {
      if (b.kind === 'overrun') counts.overrun++;
      else for (const e of b.events) if ('ct' in e) counts[(e as CtEvent).kind]++;
      if (done(counts)) return counts;
    }
  } finally {
    clearTimeout(guard);
  }
  assert.fail(`stream ended before the expected events arrived: ${JSON.stringify(counts)}`);
}

describe('conntrack events from the kernel', { skip }, () => {
  let ns: Netns;
  let ct: ConntrackClient;
  before(() => {
    ns = Netns.create('events');
    ct = ConntrackClient.open({ netns: ns.name });
  });
  after(() => {
    ct?.close();
    ns?.close();
  });

  it('delivers NEW, UPDATE and DESTROY for 1 000 entries each', async () => {
    await ct.flush();
    const stream = subscribe({ groups: ['new', 'update', 'destroy'], netns: ns.name });
    try {
      const entries = Array.from({ length: 1000 }, (_, i) => tcpEntry(i));
      const counting = countUntil(stream, (c) => c.destroy >= 1000);
      await ct.create(entries);
      await ct.update(entries.map((e) => ({ family: e.family, orig: e.orig!, mark: 1 })));
      await ct.delete(entries);
      const c = await counting;
      assert.deepEqual({ new: c.new, update: c.update, destroy: c.destroy, overrun: c.overrun }, { new: 1000, update: 1000, destroy: 1000, overrun: 0 });
    } finally {
      stream.close();
    }
  });

  it('listen: batches come through a callback; a listener that says false gets nothing more until release, then the queued ones', async () => {
    await ct.flush();
    const stream = subscribeRaw({ groups: ['new'], netns: ns.name });
    const got: number[] = []; // datagrams of each batch taken
    let heldAt = -1;
    let taken = 0;
    try {
      let holding = true;
      stream.listen((b) => {
        if (b.kind !== 'raw') return true;
        let n = 0;
        assert.ok(forEachDatagram(b.batch, b.count, () => void n++));
        got.push(n);
        taken += n;
        // Hold after the first batch: the rest must wait in the stream until release().
        if (holding && heldAt < 0) {
          heldAt = taken;
          return false;
        }
        return true;
      });
      await ct.create(Array.from({ length: 500 }, (_, i) => tcpEntry(i)));
      const guard = Date.now() + 30_000; // a hang guard, not a performance bound
      while (Date.now() < guard && taken === 0) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100)); // the other events reach the stream meanwhile
      assert.equal(taken, heldAt, `nothing taken while held (first batch ${heldAt}, taken ${taken})`);
      holding = false;
      stream.release();
      while (Date.now() < guard && taken < 500) await new Promise((r) => setTimeout(r, 10));
      assert.equal(taken, 500);
      assert.ok(got.length >= 2, `batches: ${got.join(',')}`);
    } finally {
      stream.close();
    }
  });

  it('ignorePorts: the kernel drops the events one socket caused, and delivers the others', async () => {
    await ct.flush();
    const mine = ConntrackClient.open({ netns: ns.name });
    const stream = subscribe({ groups: ['new', 'destroy'], netns: ns.name });
    try {
      stream.ignorePorts([mine.portId]);
      const seen: { kind: CtEventKind; portId: number | undefined }[] = [];
      const reading = (async () => {
        for await (const b of stream) {
          if (b.kind === 'events') for (const e of b.events) if ('ct' in e) seen.push({ kind: (e as CtEvent).kind, portId: (e as CtEvent).portId });
          if (seen.filter((x) => x.kind === 'destroy').length >= 20) return;
        }
      })();
      const guard = setTimeout(() => stream.close(), 30_000); // hang guard
      const ignored = Array.from({ length: 50 }, (_, i) => tcpEntry(i));
      const others = Array.from({ length: 20 }, (_, i) => tcpEntry(100 + i));
      assert.deepEqual((await mine.create(ignored)).filter((r) => !r.ok), []);
      assert.deepEqual((await ct.create(others)).filter((r) => !r.ok), []);
      await ct.delete(others);
      await reading;
      clearTimeout(guard);
      assert.deepEqual(
        { new: seen.filter((x) => x.kind === 'new').length, destroy: seen.filter((x) => x.kind === 'destroy').length },
        { new: 20, destroy: 20 },
        "only the other socket's creates and deletes",
      );
      assert.ok(seen.every((x) => x.portId === ct.portId));
    } finally {
      stream.close();
      mine.close();
      await ct.flush();
    }
  });

  it('"auto" (nf_conntrack_events=2) follows a machine-wide listener flag; events=1 always attaches events', async () => {
    // Since kernel 6.x nf_ctnetlink_has_listener is one global bitmask (it cannot be per netns
    // because of NETLINK_LISTEN_ALL_NSID): under "auto", an entry gets its event extension when
    // any ctnetlink listener exists anywhere on the host. Whether one exists depends on other
    // processes, so the deterministic checks are: with a listener in ANOTHER namespace, "auto"
    // entries here do report; entries made under events=1 report whatever else runs.
    const own = Netns.create('auto');
    const other = Netns.create('listener');
    const k = ConntrackClient.open({ netns: own.name });
    const elsewhere = subscribe({ groups: ['new', 'update', 'destroy'], netns: other.name, enableEvents: false });
    try {
      own.sysctl('net.netfilter.nf_conntrack_events', 2);
      const auto = Array.from({ length: 500 }, (_, i) => tcpEntry(i + 5000));
      await k.create(auto); // nobody listens here, someone does elsewhere
      enableConntrackEvents(own.name);
      assert.equal(own.exec('sysctl', ['-n', 'net.netfilter.nf_conntrack_events']).trim(), '1');
      elsewhere.close();
      const forced = Array.from({ length: 500 }, (_, i) => tcpEntry(i + 6000));
      await k.create(forced); // events=1: these report in every case
      const stream = subscribe({ groups: ['update'], netns: own.name, enableEvents: false });
      try {
        const marker = tcpEntry(7000);
        await k.create([marker]);
        const updated = new Set<string>();
        const key = (e: Conntrack): string => `${e.orig?.src}:${e.orig?.srcPort}`;
        const reading = (async () => {
          for await (const b of stream) {
            if (b.kind !== 'events') continue;
            for (const e of b.events) {
              if (!('ct' in e)) continue;
              updated.add(key(e.ct));
              if (key(e.ct) === key(marker)) return;
            }
          }
        })();
        const guard = setTimeout(() => stream.close(), 30_000);
        await k.update([...auto, ...forced, marker].map((e) => ({ family: e.family, orig: e.orig!, mark: 3 })));
        await reading; // events arrive in order: once the marker's is here, every earlier one is too
        clearTimeout(guard);
        assert.equal(forced.filter((e) => updated.has(key(e))).length, 500, 'entries made under events=1 report UPDATE');
        assert.equal(auto.filter((e) => updated.has(key(e))).length, 500, 'under "auto", a listener in another namespace was enough');
      } finally {
        stream.close();
      }
    } finally {
      elsewhere.close();
      k.close();
      own.close();
      other.close();
    }
  });

  it('signals an overrun when the buffer is too small, keeps delivering, and a dump resyncs', async () => {
    await ct.flush();
    // 4 KiB (8 KiB effective) holds about a dozen events: a 20 000-entry burst must overflow it.
    const stream = subscribe({ groups: ['new'], netns: ns.name, rcvbufBytes: 4096 });
    try {
      const counting = countUntil(stream, (c) => c.overrun >= 1 && c.new >= 1);
      await ct.create(Array.from({ length: 20_000 }, (_, i) => tcpEntry(i + 20_000)));
      const c = await counting;
      assert.ok(c.overrun >= 1, 'an overrun was signalled');
      assert.ok(c.new < 20_000, 'events were lost, as the small buffer forces');
      // After the overrun the stream still works: one more entry, and its own NEW event arrives.
      const marker = tcpEntry(60_001);
      const seen = (async () => {
        for await (const b of stream) {
          if (b.kind === 'events' && b.events.some((e) => 'ct' in e && e.ct.orig?.src === marker.orig?.src && e.ct.orig?.srcPort === marker.orig?.srcPort)) return true;
        }
        return false;
      })();
      const guard = setTimeout(() => stream.close(), 30_000);
      await ct.create([marker]);
      assert.equal(await seen, true, 'the NEW event of an entry made after the overrun arrived');
      clearTimeout(guard);
      // The resync a consumer does after an overrun: the dump has everything the events missed.
      let n = 0;
      for await (const b of ct.dump()) n += b.length;
      assert.equal(n, 20_001);
    } finally {
      stream.close();
    }
  });
});
