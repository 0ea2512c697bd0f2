import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCtEvent, decodeExpEvent, encodeCtEvent, encodeExpEvent } from '../../src/ctnetlink/event.js';
import type { NlMessage } from '../../src/netlink/message.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { loadGolden } from '../helpers/golden.js';
import { CT_EVENTS, EXP_EVENTS } from './golden-expected.js';

describe('conntrack events: golden captures of conntrack -E', () => {
  for (const [name, expected] of Object.entries(CT_EVENTS)) {
    it(`${name}: decodeCtEvent(msg) = expected and encodeCtEvent(expected) = msg`, () => {
      const { msg } = loadGolden(name);
      assert.deepStrictEqual(decodeCtEvent(msg), { ...expected, portId: msg.pid });
      assert.deepStrictEqual(encodeCtEvent({ ...expected, portId: msg.pid }), { type: msg.type, flags: msg.flags, pid: msg.pid, payload: Uint8Array.from(msg.payload) });
    });
  }

  it('NEW, UPDATE and DESTROY of one connection carry the same id', () => {
    const ids = new Set(Object.values(CT_EVENTS).map((e) => e.ct.id));
    assert.equal(ids.size, 1);
    assert.deepStrictEqual(Object.values(CT_EVENTS).map((e) => e.kind).sort(), ['destroy', 'new', 'update']);
  });
});

describe('expectation events: golden captures of conntrack -E expect', () => {
  for (const [name, expected] of Object.entries(EXP_EVENTS)) {
    it(`${name}: decodeExpEvent(msg) = expected and encodeExpEvent(expected) = msg`, () => {
      const { msg } = loadGolden(name);
      assert.deepStrictEqual(decodeExpEvent(msg), { ...expected, portId: msg.pid });
      assert.deepStrictEqual(encodeExpEvent({ ...expected, portId: msg.pid }), { type: msg.type, flags: msg.flags, pid: msg.pid, payload: Uint8Array.from(msg.payload) });
    });
  }
});

describe('event kinds', () => {
  const ct = Uint8Array.of(2, 0, 0, 0);
  const msg = (type: number, flags: number): NlMessage => ({ type, flags, seq: 0, pid: 0, payload: ct });
  const kinds: [string, number, number, string][] = [
    ['CT_NEW with NLM_F_CREATE|NLM_F_EXCL', 0x0100, 0x0600, 'new'],
    ['CT_NEW with NLM_F_CREATE only', 0x0100, 0x0400, 'new'],
    ['CT_NEW without flags', 0x0100, 0, 'update'],
    ['CT_NEW with NLM_F_MULTI only (a dump entry)', 0x0100, 0x0002, 'update'],
    ['CT_DELETE', 0x0102, 0, 'destroy'],
  ];
  for (const [name, type, flags, kind] of kinds) {
    it(`${name} → ${kind}`, () => assert.equal(decodeCtEvent(msg(type, flags)).kind, kind));
  }
  it('expectation NEW / DELETE', () => {
    assert.equal(decodeExpEvent(msg(0x0200, 0x0600)).kind, 'new');
    assert.equal(decodeExpEvent(msg(0x0202, 0)).kind, 'destroy');
  });

  const bad: [string, () => unknown][] = [
    ['an expectation message given to decodeCtEvent', () => decodeCtEvent(msg(0x0200, 0))],
    ['a CT_GET message', () => decodeCtEvent(msg(0x0101, 0))],
    ['a conntrack message given to decodeExpEvent', () => decodeExpEvent(msg(0x0100, 0x600))],
    ['NLMSG_DONE', () => decodeCtEvent(msg(0x0003, 0))],
  ];
  for (const [name, f] of bad) {
    it(`rejects ${name} with BAD_VALUE`, () => assert.throws(f, (e: unknown) => e instanceof DecodeError && e.code === 'BAD_VALUE'));
  }
});
