import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigErrors, type ConfigErrorCode } from '../../src/config/error.js';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { mutatedText, wellFormedText } from './grammar-gen.js';
import { EXAMPLE_FILES, loadExamples, seedSkipReason } from './seed-examples.js';

/**
 * The real conntrackd 1.4.7 is the arbiter of what is accepted. `conntrackd -C file -s` parses the file,
 * then, being a client request, tries to connect to the control socket named in it and fails: no daemon
 * starts, nothing is touched. Its verdict is "accepted" (it got as far as connecting), "syntax error in
 * line N", or another error that made it exit. Every configuration used here names only control sockets
 * under /run/keepstate-test/, which does not exist (or none at all).
 */

const probe = spawnSync('conntrackd', ['-v'], { encoding: 'utf8' });
const skip = probe.error !== undefined || !/v1\.4\.7/.test(probe.stdout + probe.stderr) ? 'conntrackd 1.4.7 is not installed (Debian package conntrackd)' : undefined;

type Verdict = { kind: 'accepted' } | { kind: 'syntax'; line: number } | { kind: 'exit'; message: string };

const dir = mkdtempSync(join(tmpdir(), 'keepstate-conntrackd-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function conntrackd(text: string): Verdict {
  const file = join(dir, 'test.conf');
  writeFileSync(file, text);
  const r = spawnSync('conntrackd', ['-C', file, '-s'], { encoding: 'utf8', timeout: 10_000 });
  const out = `${r.stdout}${r.stderr}`;
  if (/can't connect/.test(out)) return { kind: 'accepted' };
  const m = /parsing config file in line \((\d+)\)/.exec(out);
  if (m !== null) return { kind: 'syntax', line: Number(m[1]) };
  return { kind: 'exit', message: out.trim() };
}

const SYNTAX = new Set<ConfigErrorCode>(['CFG_SYNTAX', 'CFG_UNKNOWN_KEYWORD', 'CFG_MISPLACED']);

function ours(text: string): { codes: ConfigErrorCode[]; firstSyntaxLine: number | undefined } {
  try {
    parseConntrackdConfig(text, 'test.conf');
    return { codes: [], firstSyntaxLine: undefined };
  } catch (e) {
    if (!(e instanceof ConfigErrors)) throw e;
    return { codes: e.errors.map((x) => x.code), firstSyntaxLine: e.errors.find((x) => SYNTAX.has(x.code))?.line };
  }
}

/** agree asserts our verdict matches conntrackd's (same syntax-error line; its other exits are errors here too). */
function agree(text: string): void {
  const them = conntrackd(text);
  const us = ours(text);
  const label = `${JSON.stringify(text)}: conntrackd ${JSON.stringify(them)}, ours ${JSON.stringify(us)}`;
  if (them.kind === 'syntax') assert.equal(us.firstSyntaxLine, them.line, label);
  else if (them.kind === 'exit') assert.ok(us.codes.length > 0, label);
  else assert.equal(us.firstSyntaxLine, undefined, label);
}

const LINK = 'UDP { IPv4_Destination_Address 10.0.0.2 Port 3780 Interface lo }';

/** Texts conntrackd accepts and we refuse on purpose (src/config/conntrackd/README.md), with our error. */
const STRICTER: readonly (readonly [string, ConfigErrorCode])[] = [
  ['Sync { Multicast { IPv4_address 225.0.0.50/24 Group 3780 Interface lo } }\n', 'CFG_BAD_VALUE'],
  [`Sync { UDP { IPv4_Destination_Address 010.0.0.2 Port 3780 Interface lo } }\n`, 'CFG_BAD_VALUE'],
  ['General { Syslog local8 }\n', 'CFG_BAD_VALUE'],
  ['General { Filter { Protocol Accept { Sctp } } }\n', 'CFG_BAD_VALUE'],
  ['General { HashSize 0 }\n', 'CFG_BAD_VALUE'],
  ['General { NetlinkOverrunResync 0 }\n', 'CFG_BAD_VALUE'],
  ['General { HashSize 99999999999 }\n', 'CFG_BAD_VALUE'],
  ['Sync { UDP { IPv4_Destination_Address 10.0.0.2 Port 70000 Interface lo } }\n', 'CFG_BAD_VALUE'],
  ['General { Nice -100 }\n', 'CFG_BAD_VALUE'],
  [`Sync { UDP Default { IPv4_Destination_Address 10.0.0.2 Port 3780 Interface lo } UDP Default { IPv4_Destination_Address 10.0.0.3 Port 3781 Interface lo } }\n`, 'CFG_CONFLICT'],
  [`Sync { Mode NOTRACK { } Mode FTFW { } ${LINK} }\n`, 'CFG_CONFLICT'],
  ['General { Filter From Userspace { } Filter From Kernelspace { } }\n', 'CFG_CONFLICT'],
  [`Sync { UDP { IPv4_address 10.0.0.1 IPv6_Destination_Address ::2 Port 3780 Interface lo } }\n`, 'CFG_CONFLICT'],
  ['Sync { Multicast { IPv4_address 10.0.0.1 Group 3780 Interface lo } }\n', 'CFG_BAD_VALUE'],
  ['Sync { UDP { IPv4_Destination_Address 10.0.0.2 Port 3780 } }\n', 'CFG_MISSING'],
  ['Sync { }\n', 'CFG_MISSING'],
  ['Sync { UDP { } UDP { } UDP { } UDP { } UDP { } }\n', 'CFG_MISSING'],
  ['General { Scheduler { Priority 50 } }\n', 'CFG_MISSING'],
  ['General { Scheduler { Type RR } }\n', 'CFG_MISSING'],
  [`Sync { Mode FTFW { DisableExternalCache on CommitTimeout 5 } ${LINK} }\n`, 'CFG_CONFLICT'],
  ['General {\r\n LockFile /run/keepstate-test/x.lock\r\n}\r\n', 'CFG_BAD_VALUE'],
  [`Sync { UDP { IPv4_Destination_Address 10.0.0.2 Port 3780 Interface averyveryverylongname } }\n`, 'CFG_BAD_VALUE'],
  ['General { }\n\u00e9 anything at all {\n', 'CFG_SYNTAX'],
  ['General { NetlinkEventsReliable o| }\n', 'CFG_SYNTAX'],
  ['Helper { QueueNum 5 }\n', 'CFG_MISPLACED'],
];

/** Texts with a surprising verdict that both must share. */
const SAME: readonly string[] = [
  '',
  'General { }\n# a comment without a final newline',
  'General { Nice 0 }\n',
  'General { Nice +0 }\n',
  'general { }\n',
  'Sync { Mode persistent { } }\n',
  `Sync { Mode PERSISTENT { } Mode nack { } ${LINK} }\n`,
  `Sync { Mode FTFW { RefreshTime 5 } ${LINK} }\n`,
  `Sync { Mode ALARM { DisableExternalCache on } ${LINK} }\n`,
  'Sync { UDP { Interface dead } }\n',
  'Sync { Multicast { IPv6_address ::ffff:1.2.3.4 } }\n',
  'General { LockFile /run/keepstate-test/x}\n',
  'General { LockFile /run/keepstate-test/x\t# tab then comment\n}\n',
  'General {\r HashSize 5 # a CR does not end the comment\r}\r\n',
  'General { Filter { State Accept { for TCP } Protocol Accept { fc } } }\n',
  'Stats { NetlinkEventsReliable on }\n',
  'General { PollSecs 0 }\n',
  'General { Scheduler { Priority 100 } }\n',
  'General { Scheduler { Type other } }\n',
  `Stats { }\nSync { ${LINK} }\n`,
  `Sync { ${LINK} Multicast { IPv4_address 225.0.0.50 Group 3780 Interface lo } }\n`,
  'Helper { Type foo inet tcp { } }\n',
  'Helper { Type ftp inet tcp { Policy ftp { } } }\n',
  `General { UNIX { Path /run/keepstate-test/${'a'.repeat(100)} } }\n`,
];

describe('conntrackd.conf acceptance compared with conntrackd 1.4.7 itself', { skip }, () => {
  it('both accept the fixtures and the conntrack-tools examples', { skip: skip ?? seedSkipReason() }, () => {
    const examples = loadExamples();
    for (const f of EXAMPLE_FILES) {
      // The examples name /var/run/conntrackd.ctl: point them elsewhere so that no running daemon can answer.
      const text = examples.get(f)!.replace('/var/run/conntrackd.ctl', '/run/keepstate-test/none.ctl');
      assert.deepEqual(conntrackd(text), { kind: 'accepted' }, f);
      assert.deepEqual(ours(text).codes, [], f);
    }
    for (const name of ['ftfw-udp-ipv6.conf', 'notrack-tcp-everything.conf']) {
      const text = readFileSync(new URL(`../../../test/fixtures/config/conntrackd/${name}`, import.meta.url), 'utf8');
      assert.deepEqual(conntrackd(text), { kind: 'accepted' }, name);
      assert.deepEqual(ours(text).codes, [], name);
    }
  });

  it('we refuse, on purpose, what conntrackd accepts with a warning, misreads or leaves to fail at start-up', () => {
    for (const [text, code] of STRICTER) {
      assert.deepEqual(conntrackd(text), { kind: 'accepted' }, JSON.stringify(text));
      assert.ok(ours(text).codes.includes(code), `${JSON.stringify(text)}: ${ours(text).codes.join(', ')}`);
    }
  });

  it('agrees on the odd cases of the scanner and the grammar', () => {
    for (const text of SAME) agree(text);
  });

  it('agrees on texts generated from the grammar table, with and without mutations', () => {
    for (const text of fc.sample(wellFormedText, { seed: 1407, numRuns: 100 })) agree(text);
    for (const text of fc.sample(mutatedText, { seed: 1407, numRuns: 250 })) agree(text);
  });
});
