import assert from 'node:assert/strict';
import { IPS } from '../../src/ctnetlink/consts.js';
import type { Conntrack, Counters, Expectation, Tuple } from '../../src/ctnetlink/types.js';

/**
 * An independent oracle for golden dumps: the line conntrack(8) printed for the captured message
 * (libnetfilter_conntrack's own decoding of the same bytes, kept in the golden header as
 * `conntrack-output`). These helpers parse that line and compare it with what our decoder made of
 * the bytes, field by field.
 */

type Pairs = [string, string][];

function pairs(tokens: readonly string[]): Pairs {
  return tokens.filter((t) => t.includes('=')).map((t) => [t.slice(0, t.indexOf('=')), t.slice(t.indexOf('=') + 1)]);
}

function get(p: Pairs, key: string): string | undefined {
  return p.find(([k]) => k === key)?.[1];
}

function num(s: string | undefined): number | undefined {
  return s === undefined ? undefined : s.startsWith('0x') ? parseInt(s, 16) : Number(s);
}

function checkTuple(p: Pairs, t: Tuple | undefined, counters: Counters | undefined, what: string): void {
  assert.ok(t !== undefined, `${what} tuple missing`);
  assert.equal(t.src, get(p, 'src'), `${what} src`);
  assert.equal(t.dst, get(p, 'dst'), `${what} dst`);
  if (get(p, 'sport') !== undefined) assert.equal(t.srcPort, num(get(p, 'sport')), `${what} sport`);
  if (get(p, 'dport') !== undefined) assert.equal(t.dstPort, num(get(p, 'dport')), `${what} dport`);
  if (get(p, 'srckey') !== undefined) assert.equal(t.srcPort, num(get(p, 'srckey')), `${what} srckey`);
  if (get(p, 'dstkey') !== undefined) assert.equal(t.dstPort, num(get(p, 'dstkey')), `${what} dstkey`);
  if (get(p, 'type') !== undefined) assert.equal(t.icmpType, num(get(p, 'type')), `${what} icmp type`);
  if (get(p, 'code') !== undefined) assert.equal(t.icmpCode, num(get(p, 'code')), `${what} icmp code`);
  if (get(p, 'id') !== undefined) assert.equal(t.icmpId, num(get(p, 'id')), `${what} icmp id`);
  if (get(p, 'packets') !== undefined) assert.equal(counters?.packets, BigInt(get(p, 'packets')!), `${what} packets`);
  if (get(p, 'bytes') !== undefined) assert.equal(counters?.bytes, BigInt(get(p, 'bytes')!), `${what} bytes`);
}

/** checkConntrackLine compares a `conntrack -L [-o id]` line with a decoded entry. */
export function checkConntrackLine(line: string, ct: Conntrack): void {
  const tokens = line.trim().split(/\s+/);
  // "<proto name> <protonum> <timeout> [state] orig-pairs [UNREPLIED] reply-pairs [ASSURED] mark=… …"
  assert.equal(ct.orig?.proto, Number(tokens[1]), 'protonum');
  assert.equal(ct.timeout, Number(tokens[2]), 'timeout');
  const firstSrc = tokens.findIndex((t) => t.startsWith('src='));
  const secondSrc = tokens.findIndex((t, i) => i > firstSrc && t.startsWith('src='));
  const afterReply = tokens.findIndex((t, i) => i > secondSrc && (t.startsWith('mark=') || t === '[ASSURED]'));
  assert.ok(firstSrc > 0 && secondSrc > firstSrc && afterReply > secondSrc, `unexpected line shape: ${line}`);
  const orig = pairs(tokens.slice(firstSrc, secondSrc));
  const reply = pairs(tokens.slice(secondSrc, afterReply));
  const rest = pairs(tokens.slice(afterReply));
  checkTuple(orig, ct.orig, ct.countersOrig, 'original');
  checkTuple(reply, ct.reply, ct.countersReply, 'reply');
  if (get(orig, 'zone-orig') !== undefined) assert.equal(ct.orig?.zone, num(get(orig, 'zone-orig')), 'zone-orig');
  assert.equal(tokens.includes('[UNREPLIED]'), ((ct.status ?? 0) & IPS.SEEN_REPLY) === 0, '[UNREPLIED]');
  assert.equal(tokens.includes('[ASSURED]'), ((ct.status ?? 0) & IPS.ASSURED) !== 0, '[ASSURED]');
  assert.equal(ct.mark, num(get(rest, 'mark')), 'mark');
  assert.equal(ct.zone, num(get(rest, 'zone')), 'zone');
  assert.equal(ct.use, num(get(rest, 'use')), 'use');
  assert.equal(ct.helper, get(rest, 'helper'), 'helper');
  if (get(rest, 'id') !== undefined) assert.equal(ct.id, num(get(rest, 'id')), 'id');
}

/** checkExpectationLine compares a `conntrack -L expect` line with a decoded expectation. */
export function checkExpectationLine(line: string, e: Expectation): void {
  const tokens = line.trim().split(/\s+/);
  assert.equal(e.timeout, Number(tokens[0]), 'timeout');
  const maskAt = tokens.findIndex((t) => t.startsWith('mask-src='));
  const masterAt = tokens.findIndex((t) => t.startsWith('master-src='));
  const tuple = pairs(tokens.slice(1, maskAt));
  const mask = pairs(tokens.slice(maskAt, masterAt));
  const master = pairs(tokens.slice(masterAt));
  assert.equal(e.tuple?.proto, num(get(tuple, 'proto')), 'proto');
  assert.equal(e.tuple?.src, get(tuple, 'src'), 'tuple src');
  assert.equal(e.tuple?.dst, get(tuple, 'dst'), 'tuple dst');
  if (get(tuple, 'sport') !== undefined) assert.equal(e.tuple?.srcPort, num(get(tuple, 'sport')), 'tuple sport');
  if (get(tuple, 'dport') !== undefined) assert.equal(e.tuple?.dstPort, num(get(tuple, 'dport')), 'tuple dport');
  assert.equal(e.mask?.src, get(mask, 'mask-src'), 'mask src');
  assert.equal(e.mask?.dst, get(mask, 'mask-dst'), 'mask dst');
  if (get(mask, 'sport') !== undefined) assert.equal(e.mask?.srcPort, num(get(mask, 'sport')), 'mask sport');
  if (get(mask, 'dport') !== undefined) assert.equal(e.mask?.dstPort, num(get(mask, 'dport')), 'mask dport');
  assert.equal(e.master?.src, get(master, 'master-src'), 'master src');
  assert.equal(e.master?.dst, get(master, 'master-dst'), 'master dst');
  assert.equal(e.master?.srcPort, num(get(master, 'sport')), 'master sport');
  assert.equal(e.master?.dstPort, num(get(master, 'dport')), 'master dport');
  assert.equal(e.class, num(get(master, 'class')), 'class');
  assert.equal(e.helper, get(master, 'helper'), 'helper');
}

/** checkStatsLine compares a `conntrack -S` line (`cpu=0 found=… insert_failed=…`) with decoded counters. */
export function checkStatsLine(line: string, stats: Readonly<Record<string, unknown>>): void {
  for (const [k, v] of pairs(line.trim().split(/\s+/))) {
    const key = k === 'chaintoolong' ? 'chainTooLong' : k.replace(/^expect_/, '').replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    assert.equal(stats[key], Number(v), k);
  }
}
