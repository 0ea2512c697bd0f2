import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CTA, IPCTNL_MSG_CT, IPS } from '../../src/ctnetlink/consts.js';
import { decodeConntrack } from '../../src/ctnetlink/conntrack.js';
import { decodeExpectation } from '../../src/ctnetlink/expectation.js';
import {
  ctCreate,
  ctDelete,
  ctDump,
  ctDumpDying,
  ctDumpZero,
  ctFlush,
  ctGet,
  ctRequest,
  ctStats,
  ctStatsCpu,
  ctUpdate,
  expCreate,
  expDelete,
  expDump,
  expFlush,
  expGet,
  expStatsCpu,
  type NfRequest,
} from '../../src/ctnetlink/requests.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { NLM_F } from '../../src/netlink/consts.js';
import { parseAnnotatedHex } from '../../src/wire/hex.js';
import { loadGolden, zeroPadding } from '../helpers/golden.js';
import { CONNTRACKS, EXPECTATIONS } from './golden-expected.js';

/**
 * assertSameAsConntrack compares a request with what conntrack 1.4.7 sent for the same command:
 * same nlmsg_type, same flags once NLM_F_REQUEST/NLM_F_ACK (added by the sender) are set aside,
 * same body up to the padding bytes libnfnetlink leaves uninitialised.
 */
function assertSameAsConntrack(req: NfRequest, golden: string, bodyLength?: number): void {
  const { msg } = loadGolden(golden);
  assert.equal(req.type, msg.type, 'nlmsg_type');
  assert.equal(req.flags, msg.flags & ~(NLM_F.REQUEST | NLM_F.ACK), 'nlmsg_flags');
  const body = zeroPadding(msg.payload, 4);
  assert.deepStrictEqual(req.body, bodyLength === undefined ? body : body.subarray(0, bodyLength));
}

const expectedCt = (name: string): Conntrack => {
  const ct = CONNTRACKS[name];
  assert.ok(ct, name);
  return ct;
};

describe('requests: byte-identical to conntrack 1.4.7', () => {
  for (const name of Object.keys(CONNTRACKS).filter((n) => n.startsWith('req-ct-create-'))) {
    it(`ctCreate = ${name}`, () => assertSameAsConntrack(ctCreate(expectedCt(name)), name));
  }
  it('ctUpdate = conntrack -U -m 43', () => assertSameAsConntrack(ctUpdate(expectedCt('req-ct-update-mark.hex')), 'req-ct-update-mark.hex'));
  it('ctUpdate = conntrack -U --label-add', () => assertSameAsConntrack(ctUpdate(expectedCt('req-ct-update-labels.hex')), 'req-ct-update-labels.hex'));
  it('ctRequest(DELETE) = the whole-entry delete conntrack -D sends', () =>
    assertSameAsConntrack(ctRequest(IPCTNL_MSG_CT.DELETE, 0, expectedCt('req-ct-delete-tcp.hex')), 'req-ct-delete-tcp.hex'));
  it('ctRequest(GET) = conntrack -G, and ctGet sends its original tuple (the part the kernel looks up)', () => {
    const get = expectedCt('req-ct-get-tcp.hex');
    assertSameAsConntrack(ctRequest(IPCTNL_MSG_CT.GET, 0, get), 'req-ct-get-tcp.hex');
    assertSameAsConntrack(ctGet(get), 'req-ct-get-tcp.hex', 4 + 52); // nfgenmsg + CTA_TUPLE_ORIG
  });
  it('ctDump() = conntrack -L', () => assertSameAsConntrack(ctDump(), 'req-ct-dump.hex'));
  it("ctDump({ family: 'ipv6' }) = conntrack -L -f ipv6", () => assertSameAsConntrack(ctDump({ family: 'ipv6' }), 'req-ct-dump-ipv6.hex'));
  it('ctDump({ mark, markMask }) = conntrack -L -m 42/0xff', () => assertSameAsConntrack(ctDump({ mark: 42, markMask: 0xff }), 'req-ct-dump-mark.hex'));
  it('ctDump({ status }) = conntrack -L -u ASSURED', () => assertSameAsConntrack(ctDump({ status: IPS.ASSURED }), 'req-ct-dump-status.hex'));
  it('ctFlush() = conntrack -F', () => assertSameAsConntrack(ctFlush(), 'req-ct-flush.hex'));
  it('ctStatsCpu() = conntrack -S', () => assertSameAsConntrack(ctStatsCpu(), 'req-ct-stats-cpu.hex'));
  it('ctStats() = conntrack -C', () => assertSameAsConntrack(ctStats(), 'req-ct-stats.hex'));
  it("expDump('ipv4') = conntrack -L expect", () => assertSameAsConntrack(expDump('ipv4'), 'req-exp-dump.hex'));
  it("expFlush('ipv4') = conntrack -F expect", () => assertSameAsConntrack(expFlush('ipv4'), 'req-exp-flush.hex'));
  it('expStatsCpu() = conntrack -S expect', () => assertSameAsConntrack(expStatsCpu(), 'req-exp-stats-cpu.hex'));
  it('expCreate = conntrack -I expect', () => {
    const e = EXPECTATIONS['req-exp-create.hex'];
    assert.ok(e);
    assertSameAsConntrack(expCreate(e), 'req-exp-create.hex');
  });
});

describe('requests: what each builder sends', () => {
  const entry = CONNTRACKS['dump-ct-tcp-snat.hex']!;

  it('ctDelete sends the lookup key only: original tuple, zone and id', () => {
    const req = ctDelete({ ...entry, zone: 3 });
    assert.equal(req.type, 0x0102);
    assert.equal(req.flags, 0);
    assert.deepStrictEqual(decodeConntrack(req.body), { family: 'ipv4', orig: entry.orig, zone: 3, id: entry.id });
  });

  it('ctDelete and ctGet fall back to the reply tuple when there is no original one', () => {
    const { orig: _o, ...noOrig } = entry;
    assert.deepStrictEqual(decodeConntrack(ctDelete(noOrig).body), { family: 'ipv4', reply: entry.reply, id: entry.id });
    assert.equal(ctGet(noOrig).type, 0x0101);
  });

  it('ctCreate and ctUpdate never send CTA_ID, nor what the kernel only reports', () => {
    for (const req of [ctCreate(entry), ctUpdate(entry)]) {
      const ct = decodeConntrack(req.body);
      assert.equal(ct.id, undefined);
      assert.equal(ct.use, undefined);
      assert.equal(ct.countersOrig, undefined);
      assert.equal(ct.timestamp, undefined);
      assert.deepStrictEqual(ct.orig, entry.orig);
    }
    assert.equal(ctCreate(entry).flags, NLM_F.CREATE | NLM_F.EXCL);
    assert.equal(ctUpdate(entry).flags, 0);
  });

  it('ctDump sends every kernel-side filter, with the kernel defaults for missing masks', () => {
    const req = ctDump({ family: 'ipv4', mark: 1, zone: 7, status: IPS.ASSURED | IPS.SEEN_REPLY, statusMask: IPS.ASSURED });
    assert.equal(req.flags, NLM_F.DUMP);
    assert.deepStrictEqual(
      req.body,
      parseAnnotatedHex(`
        02 00 0000              # AF_INET
        0800 0800 00000001      # CTA_MARK
        0800 1500 ffffffff      # CTA_MARK_MASK (default: all bits)
        0600 1200 0007 0000     # CTA_ZONE
        0800 0300 00000006      # CTA_STATUS
        0800 1a00 00000004      # CTA_STATUS_MASK`),
    );
  });

  it('ctDumpZero and ctDumpDying use IPCTNL_MSG_CT_GET_CTRZERO / _GET_DYING as dumps', () => {
    assert.equal(ctDumpZero().type, 0x0103);
    assert.equal(ctDumpZero().flags, NLM_F.DUMP);
    assert.equal(ctDumpDying().type, 0x0106);
  });

  it('a family-limited flush sets nfgenmsg.version 1, without which the kernel flushes every family', () => {
    assert.deepStrictEqual(ctFlush('ipv6').body, Uint8Array.of(10, 1, 0, 0));
    assert.deepStrictEqual(ctFlush().body, Uint8Array.of(0, 0, 0, 0));
    assert.deepStrictEqual(expFlush().body, Uint8Array.of(0, 0, 0, 0));
    assert.deepStrictEqual(expDump().body, Uint8Array.of(0, 0, 0, 0));
  });

  it('expGet / expDelete send the tuple (or the master), zone and id; expCreate drops the id', () => {
    const e = { ...EXPECTATIONS['dump-exp-ftp.hex']!, zone: 2 };
    for (const req of [expGet(e), expDelete(e)]) {
      assert.deepStrictEqual(decodeExpectation(req.body), { family: 'ipv4', tuple: e.tuple, zone: 2, id: e.id });
    }
    assert.equal(expGet(e).type, 0x0201);
    assert.equal(expDelete(e).type, 0x0202);
    const { tuple: _t, ...noTuple } = e;
    assert.deepStrictEqual(decodeExpectation(expGet(noTuple).body).master, e.master);
    const created = decodeExpectation(expCreate(e).body);
    assert.equal(created.id, undefined);
    assert.equal(created.fn, 'nat-follow-master');
    assert.equal(expCreate(e).flags, NLM_F.CREATE | NLM_F.EXCL);
  });

  it('requests use libnetfilter_conntrack attribute order (status before timeout, zone after protoinfo)', () => {
    const body = ctCreate({ ...entry, zone: 1 }).body;
    const types: number[] = [];
    for (let o = 4; o < body.length; o += ((body[o]! | (body[o + 1]! << 8)) + 3) & ~3) types.push(body[o + 2]!);
    assert.deepStrictEqual(types, [CTA.TUPLE_ORIG, CTA.TUPLE_REPLY, CTA.STATUS, CTA.TIMEOUT, CTA.MARK, CTA.PROTOINFO, CTA.ZONE]);
  });
});
