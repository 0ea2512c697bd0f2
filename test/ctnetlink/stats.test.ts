import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeCpuStats,
  decodeExpCpuStats,
  decodeGlobalStats,
  encodeCpuStats,
  encodeExpCpuStats,
  encodeGlobalStats,
} from '../../src/ctnetlink/stats.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { checkStatsLine } from '../helpers/conntrack-output.js';
import { loadGolden } from '../helpers/golden.js';
import { attr, be16, be32, payload } from '../helpers/nla-build.js';
import { bytesRoundTrip, roundTrip } from '../helpers/roundtrip.js';
import { CPU_STATS, EXP_CPU_STATS, GLOBAL_STATS } from './golden-expected.js';

describe('statistics: golden captures of conntrack -S / -C / -S expect', () => {
  for (const [name, expected] of Object.entries(CPU_STATS)) {
    it(name, () => {
      const g = loadGolden(name);
      assert.deepStrictEqual(bytesRoundTrip(g.msg.payload, decodeCpuStats, encodeCpuStats), expected);
      checkStatsLine(g.header.get('conntrack-output')!, expected as unknown as Record<string, unknown>);
    });
  }
  for (const [name, expected] of Object.entries(GLOBAL_STATS)) {
    it(name, () => {
      const g = loadGolden(name);
      assert.deepStrictEqual(bytesRoundTrip(g.msg.payload, decodeGlobalStats, encodeGlobalStats), expected);
      assert.equal(Number(g.header.get('conntrack-output')), expected.entries);
    });
  }
  for (const [name, expected] of Object.entries(EXP_CPU_STATS)) {
    it(`${name} (answered under subsystem CTNETLINK, message type 3)`, () => {
      const g = loadGolden(name);
      assert.equal(g.msg.type, 0x0103);
      assert.deepStrictEqual(bytesRoundTrip(g.msg.payload, decodeExpCpuStats, encodeExpCpuStats), expected);
      checkStatsLine(g.header.get('conntrack-output')!, expected as unknown as Record<string, unknown>);
    });
  }
});

describe('statistics: round trips and errors', () => {
  it('round-trips every per-CPU counter, the CPU number in res_id, and unknown attributes', () => {
    roundTrip(
      {
        cpu: 3, searched: 1, found: 2, new: 3, invalid: 4, ignore: 5, delete: 6, deleteList: 7, insert: 8, insertFailed: 9,
        drop: 10, earlyDrop: 11, error: 12, searchRestart: 13, clashResolve: 14, chainTooLong: 0xffffffff,
        unknown: [{ type: 40, data: Uint8Array.of(1, 2, 3, 4) }],
      },
      encodeCpuStats,
      decodeCpuStats,
    );
    roundTrip({ cpu: 65535, new: 1, create: 2, delete: 3 }, encodeExpCpuStats, decodeExpCpuStats);
    roundTrip({ entries: 0 }, encodeGlobalStats, decodeGlobalStats);
  });

  it('reads res_id in network order', () => {
    assert.equal(decodeCpuStats(Uint8Array.of(0, 0, 1, 2)).cpu, 0x0102);
  });

  const cases: [string, () => unknown, DecodeError['code'], string][] = [
    ['a CPU counter of 2 bytes', () => decodeCpuStats(payload(0, attr(2, be16(1)))), 'BAD_SIZE', 'cpuStats.found'],
    ['an expectation counter of 8 bytes', () => decodeExpCpuStats(payload(0, attr(1, [...be32(1), ...be32(1)]))), 'BAD_SIZE', 'expCpuStats.new'],
    ['global stats without the entry count', () => decodeGlobalStats(payload(0, attr(2, be32(1)))), 'MISSING', 'globalStats.entries'],
    ['a truncated nfgenmsg', () => decodeGlobalStats(Uint8Array.of(0, 0)), 'SHORT', 'globalStats'],
    ['a broken attribute', () => decodeCpuStats(Uint8Array.of(0, 0, 0, 0, 2, 0)), 'SHORT', 'cpuStats'],
  ];
  for (const [name, f, code, path] of cases) {
    it(`${name} → ${code}`, () => assert.throws(f, (e: unknown) => e instanceof DecodeError && e.code === code && e.path.join('.') === path));
  }
});
