// scanKernelCt remembers the layouts it has walked (KernelShape) and reads a message of a known
// layout without walking it: what a view that has read other messages makes of a message must be
// exactly what a fresh view makes of it, whatever the messages before, and a message that differs
// from a known layout in any byte of a header must be walked, not taken for that layout.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeConntrack } from '../../src/ctnetlink/conntrack.js';
import { KernelCtView, scanKernelCt, type KernelTupleView } from '../../src/ctnetlink/scan.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { conntrack, firewallEntry } from '../helpers/arbitraries.js';
import { goldenNames, loadGolden } from '../helpers/golden.js';

function tupleOf(t: KernelTupleView): readonly number[] {
  return [t.addrLen, t.src, t.dst, t.proto, t.srcPort, t.dstPort, t.icmpId, t.icmpType, t.icmpCode, t.start, t.end];
}

/** What scanKernelCt says of [4, end) of `p`: refused, or every field of the view. */
function scanned(p: Uint8Array, v: KernelCtView): unknown {
  if (!scanKernelCt(p, 4, p.length, v)) return 'refused';
  return {
    orig: tupleOf(v.orig),
    reply: v.hasReply ? tupleOf(v.reply) : undefined,
    values: [v.status, v.timeout, v.mark, v.zone, v.tcpState, v.tcpWscaleOrig, v.tcpWscaleReply, v.sctpState, v.sctpVtagOrig, v.sctpVtagReply, v.dccpState, v.dccpRole, v.synIsn, v.synIts, v.synTsoff],
    flags: [v.hasReply, v.hasProtoInfo, v.hasSynproxy, v.volatileBytes],
  };
}

const message = fc.oneof(firewallEntry, conntrack()).map((ct) => encodeConntrack(ct, 'event'));

describe('scanKernelCt with remembered layouts', () => {
  it('a view that has read other messages reads each one as a fresh view does', () => {
    const v = new KernelCtView();
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 24 }), (ps) => {
        for (const p of ps) assert.deepStrictEqual(scanned(p, v), scanned(p, new KernelCtView()));
      }),
      { numRuns: 400 },
    );
  });

  it('a message of a known layout is read with its own values (the layout is reused)', () => {
    const v = new KernelCtView();
    let reused = 0;
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(firewallEntry, u32, u32, u32, fc.integer({ min: 0, max: 0xffff }), (a, x, y, z, port) => {
        // The same attributes with other values: the layout of `a`.
        const b: Conntrack = {
          ...a,
          ...(a.status !== undefined ? { status: x } : {}),
          ...(a.timeout !== undefined ? { timeout: y } : {}),
          ...(a.mark !== undefined ? { mark: z } : {}),
          ...(a.orig?.srcPort !== undefined ? { orig: { ...a.orig, srcPort: port } } : {}),
        };
        const pa = encodeConntrack(a, 'event');
        const pb = encodeConntrack(b, 'event');
        scanned(pa, v);
        const walked = v.shapes.walked;
        assert.deepStrictEqual(scanned(pb, v), scanned(pb, new KernelCtView()));
        if (v.shapes.walked === walked) reused++;
      }),
      { numRuns: 1000 },
    );
    assert.ok(reused > 900, `only ${reused} of 1000 messages were read through a remembered layout`);
  });

  it('a message one byte away from a known layout is read as a fresh view reads it (headers are never taken on trust)', () => {
    const v = new KernelCtView();
    fc.assert(
      fc.property(firewallEntry, fc.nat(), fc.integer({ min: 0, max: 255 }), (ct, where, value) => {
        const p = encodeConntrack(ct, 'event');
        assert.notEqual(scanned(p, v), 'refused', 'a firewall entry takes the fast path');
        const q = p.slice();
        q[4 + (where % (q.length - 4))] = value;
        assert.deepStrictEqual(scanned(q, v), scanned(q, new KernelCtView()));
      }),
      { numRuns: 3000 },
    );
  });

  it('every conntrack message captured from the kernel, read after all the others, as a fresh view reads it', () => {
    const ps = goldenNames()
      .filter((n) => /^(dump|event|get)-ct-/.test(n))
      .map((n) => loadGolden(n).msg.payload);
    const v = new KernelCtView();
    for (const round of [1, 2]) for (const p of ps) assert.deepStrictEqual(scanned(p, v), scanned(p, new KernelCtView()), `round ${round}`);
  });
});
