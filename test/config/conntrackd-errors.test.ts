import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigErrors, formatConfigError, type ConfigErrorCode } from '../../src/config/error.js';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';

/** errorsOf returns the formatted errors of a text that must be refused. */
function errorsOf(text: string, file = 'bad.conf'): string[] {
  try {
    parseConntrackdConfig(text, file);
  } catch (e) {
    if (e instanceof ConfigErrors) return e.errors.map(formatConfigError);
    throw e;
  }
  assert.fail(`accepted: ${JSON.stringify(text)}`);
}

const codesOf = (text: string): ConfigErrorCode[] => {
  try {
    parseConntrackdConfig(text, 'bad.conf');
  } catch (e) {
    if (e instanceof ConfigErrors) return e.errors.map((x) => x.code);
    throw e;
  }
  return [];
};

const UDP_LINK = 'UDP { IPv4_Destination_Address 10.0.0.2 Port 3780 Interface eth1 }';

/** Bad files: each row is the text and every error it must produce, in order, with file:line:col. */
const BAD: readonly (readonly [string, string, readonly string[]])[] = [
  ['keywords are case-sensitive', 'General {\n\thashsize 8192\n}\n', ["bad.conf:2:2: unknown keyword 'hashsize' in General (keywords are case-sensitive: 'HashSize')"]],
  [
    '0 as "default" and overflowing numbers',
    'General {\n\tHashSize 0\n\tHashLimit 4294967296\n}\n',
    [
      'bad.conf:2:11: HashSize 0: must be between 1 and 2147483647 (conntrackd 1.4.7 silently reads 0 as the default, 65536; leave the line out for that)',
      'bad.conf:3:12: HashLimit 4294967296: must be between 1 and 2147483647 (conntrackd 1.4.7 would overflow it)',
    ],
  ],
  ['Nice needs a sign', 'General {\n\tNice 0\n}\n', ['bad.conf:2:7: Nice expects a number with a sign (like -20 or +0); got the number 0']],
  ['a number takes no sign', 'General { HashSize +5 }', ['bad.conf:1:20: HashSize expects a number; got the signed number +5 (no sign allowed)']],
  [
    'a brace written against a path belongs to the path',
    'General { LockFile /var/lock/x}\n',
    [
      "bad.conf:1:20: LockFile: the path /var/lock/x} contains '}'; conntrackd reads a brace written against a path as part of it (put a space before the brace)",
      "bad.conf:2:1: missing '}' to close General, opened at 1:9",
    ],
  ],
  [
    'a CRLF line end puts a CR into a path',
    'General {\r\n\tLockFile /var/lock/x\r\n}\r\n',
    [`bad.conf:2:11: LockFile: the path contains a carriage return; conntrackd ends a path only at a space, a line feed or '"', so it would become part of the file name`],
  ],
  ['syslog facilities are lower case', 'General { Syslog Daemon }\n', ['bad.conf:1:18: Syslog Daemon: not a known facility (daemon or local0…local7, lower case)']],
  ['PollSecs 0', 'General { PollSecs 0 }\n', ['bad.conf:1:20: PollSecs 0: must be between 1 and 2147483647 (conntrackd refuses 0 too)']],
  [
    'NetlinkOverrunResync 0 is not "off"',
    'General { NetlinkOverrunResync 0 }\n',
    ['bad.conf:1:32: NetlinkOverrunResync 0: must be between 1 and 2147483647 (conntrackd 1.4.7 reads 0 as the default, 30 s; write off to disable it)'],
  ],
  ['unknown scheduler', 'General { Scheduler { Type SCHED_RR } }\n', ['bad.conf:1:28: Type SCHED_RR: unknown scheduler (RR or FIFO)']],
  ['scheduler priority out of range', 'General { Scheduler { Type RR Priority 100 } }\n', ['bad.conf:1:40: Priority 100: must be between 0 and 99']],
  [
    'scheduler priority without type',
    'General { Scheduler { Priority 50 } }\n',
    ['bad.conf:1:23: Scheduler Priority needs a Type (RR or FIFO): conntrackd ignores a Priority alone and runs RR at 99'],
  ],
  [
    'scheduler type without priority',
    'General { Scheduler { Type fifo } }\n',
    ['bad.conf:1:23: Scheduler Type FIFO needs a Priority between 1 and 99 (the kernel refuses FIFO at priority 0, and conntrackd then keeps the normal scheduler)'],
  ],
  ['UNIX path too long', `General { UNIX { Path /run/${'a'.repeat(100)}.ctl } }\n`, ['bad.conf:1:23: Path: the path is longer than 107 bytes']],
  [
    'conflicting filter origins',
    'General { Filter From Userspace { } Filter From Kernelspace { } }\n',
    ['bad.conf:1:37: Filter from kernelspace conflicts with Filter from userspace at 1:11 (conntrackd would silently keep the last one)'],
  ],
  [
    'conflicting filter policies',
    'General { Filter { Protocol Accept { TCP } Protocol Ignore { UDP } } }\n',
    ['bad.conf:1:44: Protocol Ignore conflicts with Protocol Accept at 1:20 (conntrackd would silently keep the last one for all entries)'],
  ],
  [
    'bad filter addresses',
    'General { Filter { Address Ignore { IPv4_address 192.168.1.0/33 IPv6_address 10.0.0.1 IPv4_address 0192.168.1.1 } } }\n',
    [
      'bad.conf:1:50: IPv4_address 192.168.1.0/33: the prefix length must be between 0 and 32',
      'bad.conf:1:78: IPv6_address 10.0.0.1: not an IPv6 address (this keyword takes IPv6)',
      'bad.conf:1:100: IPv4_address 0192.168.1.1: leading zeros are ambiguous: conntrackd (inet_aton) reads them as octal, so 010 is 8; write the address without them',
    ],
  ],
  [
    'protocol names are case-sensitive',
    'General { Filter { Protocol Accept { TCP Sctp } } }\n',
    ["bad.conf:1:42: unknown protocol 'Sctp' (names are case-sensitive, as in /etc/protocols: 'sctp')"],
  ],
  ['TCP states end with "for TCP"', 'General { Filter { State Accept { ESTABLISHED for UDP } } }\n', ["bad.conf:1:51: 'for' must be followed by 'TCP'; got 'UDP'"]],
  ['TCP states without "for TCP"', 'General { Filter { State Ignore { ESTABLISHED } } }\n', ["bad.conf:1:47: expected 'for TCP' after the TCP states; got '}'"]],
  [
    'a hex-looking protocol name is an address to the scanner',
    'General { Filter { Protocol Accept { fc } } }\n',
    ["bad.conf:1:38: Filter Protocol expects a protocol name from /etc/protocols (TCP, UDP, SCTP, DCCP, ICMP, IPv6-ICMP, …); got 'fc' (conntrackd's scanner reads it as an IPv6 address, not a name)"],
  ],
  ['an option in the wrong mode block', 'Sync {\n\tMode FTFW { RefreshTime 5 }\n}\n', ["bad.conf:2:14: 'RefreshTime' is not allowed in Mode FTFW (it belongs in Sync, Mode ALARM)"]],
  ['DisableInternalCache is NOTRACK only', `Sync { Mode FTFW { DisableInternalCache on } ${UDP_LINK} }`, ["bad.conf:1:20: 'DisableInternalCache' is not allowed in Mode FTFW (it belongs in Mode NOTRACK)"]],
  [
    'two different modes',
    `Sync {\n\tMode NOTRACK { }\n\tMode ALARM { }\n\t${UDP_LINK}\n}\n`,
    ['bad.conf:3:2: Mode ALARM conflicts with Mode NOTRACK at 2:2 (conntrackd would silently run FTFW, else ALARM, with the options of both blocks)'],
  ],
  [
    'CommitTimeout with DisableExternalCache',
    `Sync { Mode FTFW { DisableExternalCache on CommitTimeout 180 } ${UDP_LINK} }\n`,
    ['bad.conf:1:44: CommitTimeout cannot be combined with DisableExternalCache on: nothing is committed (conntrackd warns and ignores CommitTimeout)'],
  ],
  ['Sync without a link', 'Sync { }\n', ['bad.conf:1:1: Sync has no dedicated link: add a Multicast, UDP or TCP block']],
  [
    'a link without its mandatory settings',
    'Sync { UDP { IPv4_address 10.0.0.1 } }\n',
    ['bad.conf:1:8: this UDP link has no Interface, no peer address (IPv4_Destination_Address or IPv6_Destination_Address), no Port'],
  ],
  [
    'a multicast group that is not multicast, port 0',
    'Sync { Multicast { IPv4_address 10.0.0.1 Group 0 Interface eth1 } }\n',
    [
      'bad.conf:1:33: IPv4_address 10.0.0.1: in a Multicast block this is the group, and it is not a multicast address (224.0.0.0/4)',
      'bad.conf:1:48: Group 0: must be between 1 and 65535',
    ],
  ],
  ['a prefix on a link address', 'Sync { Multicast { IPv4_address 225.0.0.50/24 Group 3780 Interface eth1 } }', ['bad.conf:1:33: IPv4_address 225.0.0.50/24: a prefix length is not allowed here']],
  [
    'a link mixing IPv4 and IPv6',
    'Sync { Multicast { IPv6_address ff02::1 IPv4_interface 10.0.0.1 Group 3780 Interface eth1 } }\n',
    ['bad.conf:1:41: IPv4_interface: this Multicast link is already IPv6 (IPv6_address at 1:20); a link is IPv4 or IPv6, not both'],
  ],
  [
    'mixed link kinds',
    `Sync { ${UDP_LINK} Multicast { IPv4_address 225.0.0.50 Group 3780 Interface eth1 } }\n`,
    ['bad.conf:1:75: cannot mix Multicast with UDP dedicated links (UDP at 1:8); all links must be of one kind'],
  ],
  [
    'more than four links',
    `Sync {\n${[1, 2, 3, 4, 5].map((i) => `UDP { IPv4_Destination_Address 10.0.0.${i} Port 3780 Interface eth1 }\n`).join('')}}\n`,
    ['bad.conf:6:1: too many dedicated links: at most 4'],
  ],
  ['two Default links', `Sync { UDP Default { IPv4_Destination_Address 10.0.0.2 Port 3780 Interface eth1 } UDP Default { IPv4_Destination_Address 10.0.0.3 Port 3781 Interface eth2 } }\n`, ['bad.conf:1:87: only one link can be Default (another one at 1:8)']],
  [
    'interface name too long',
    'Sync { UDP { Interface averyveryverylongname IPv4_Destination_Address 10.0.0.2 Port 3780 } }\n',
    ['bad.conf:1:24: Interface averyveryverylongname: an interface name has at most 15 characters'],
  ],
  ['a hex-looking interface name', 'Sync { UDP { Interface dead } }\n', ["bad.conf:1:24: Interface expects a name; got 'dead' (conntrackd's scanner reads it as an IPv6 address, not a name)"]],
  ['Sync and Stats', `Stats { }\nSync { ${UDP_LINK} }\n`, ['bad.conf:2:1: cannot use both Sync and Stats (Stats at 1:1)']],
  [
    'a final comment without a line feed',
    'General { }\n# end',
    ["bad.conf:2:1: expected a keyword or '}' in the top level; got a '#' comment with no line break after it (conntrackd 1.4.7 only ends a comment at a line feed)"],
  ],
  [
    'a non-ASCII character',
    'General { HashSize 5 } \u00e9\n',
    ["bad.conf:1:24: expected a keyword or '}' in the top level; got the character U+00E9 (conntrackd 1.4.7 takes a NUL or non-ASCII byte for the end of the file)"],
  ],
  ['a stray closing brace', 'General { HashSize 5 }}\n', ["bad.conf:1:23: unexpected '}': no block is open here"]],
  ['an unclosed block', 'General {\n\tHashSize 5\n', ["bad.conf:3:1: missing '}' to close General, opened at 1:9"]],
  ['quotes', 'General { HashSize "5" }\n', [`bad.conf:1:20: HashSize expects a number; got '"' (the syntax has no quoted strings)`]],
  ['a section name in lower case', 'general { }\n', ["bad.conf:1:1: unknown keyword 'general' in the top level (keywords are case-sensitive: 'General')"]],
  ['an empty ExpectationSync list item that lexes as an address', `Sync { Options { ExpectationSync { ftp dead } } ${UDP_LINK} }\n`, ["bad.conf:1:40: ExpectationSync expects a helper name (ftp, sip, h323, …); got 'dead' (conntrackd's scanner reads it as an IPv6 address, not a name)"]],
  ['helper options outside a Type', 'Helper { QueueNum 5 }\n', ["bad.conf:1:10: 'QueueNum' is not allowed in Helper (it belongs in Helper Type)"]],
  [
    'unknown helper, empty policy, wrong policy name',
    'Helper { Type ftp inet udp { Policy ftp { } } Type ftp inet6 tcp { Policy xx { ExpectMax 1 } } Type ftp inet4 tcp { } }\n',
    [
      'bad.conf:1:15: Type ftp: no such helper for udp; conntrackd 1.4.7 has amanda (udp), dhcpv6 (udp), ftp (tcp), mdns (udp), rpc (tcp, udp), sane (tcp), slp (udp), ssdp (udp, tcp), tftp (udp), tns (tcp)',
      'bad.conf:1:30: Policy ftp is empty: give ExpectMax and/or ExpectTimeout (conntrackd refuses it too)',
      "bad.conf:1:75: Policy xx: the ftp helper has one policy, named 'ftp'",
      'bad.conf:1:105: Type ftp inet4: unknown layer-3 protocol (inet or inet6)',
    ],
  ],
];

describe('conntrackd.conf errors: every one, with file:line:col', () => {
  for (const [name, text, want] of BAD) {
    it(name, () => assert.deepEqual(errorsOf(text), want));
  }

  it('reports all the errors of a file with many, in file order (fixture many-errors.conf)', () => {
    const text = readFileSync(new URL('../../../test/fixtures/config/conntrackd/many-errors.conf', import.meta.url), 'utf8');
    assert.deepEqual(errorsOf(text, 'many-errors.conf'), [
      "many-errors.conf:3:2: unknown keyword 'hashsize' in General (keywords are case-sensitive: 'HashSize')",
      'many-errors.conf:4:12: HashLimit 0: must be between 1 and 2147483647 (conntrackd 1.4.7 silently reads 0 as the default, 262144; leave the line out for that)',
      "many-errors.conf:5:11: LockFile: the path /run/keepstate-test/lock} contains '}'; conntrackd reads a brace written against a path as part of it (put a space before the brace)",
      'many-errors.conf:6:9: Syslog local9: not a known facility (daemon or local0…local7, lower case)',
      'many-errors.conf:7:31: Priority 100: must be between 0 and 99',
      "many-errors.conf:11:3: 'RefreshTime' is not allowed in Mode FTFW (it belongs in Sync, Mode ALARM)",
      'many-errors.conf:14:16: IPv4_address 192.168.100.255: in a Multicast block this is the group, and it is not a multicast address (224.0.0.0/4)',
      'many-errors.conf:18:2: cannot mix UDP with Multicast dedicated links (Multicast at 13:2); all links must be of one kind',
      'many-errors.conf:24:1: cannot use both Stats and Sync (Sync at 9:1)',
    ]);
  });

  it('recovers after a syntax error and reports the next ones, in the same block and in later ones', () => {
    assert.deepEqual(errorsOf('General {\n HashSize\n HashLimit x\n LockFile 5 UNIX { Path x }\n}\nSync { Mode FOO { } }\n'), [
      "bad.conf:3:2: HashSize expects a number; got 'HashLimit'",
      "bad.conf:3:12: HashLimit expects a number; got 'x'",
      'bad.conf:4:11: LockFile expects a path starting with \'/\'; got the number 5',
      "bad.conf:4:25: Path expects a path starting with '/'; got 'x'",
      // No "Sync has no dedicated link": a block with a syntax error inside gets no "missing" errors.
      "bad.conf:6:13: Mode expects FTFW then '{', or ALARM then '{', or NOTRACK then '{'; got 'FOO'",
    ]);
  });

  it('does not report a missing setting whose line had an error of its own', () => {
    assert.deepEqual(codesOf('Sync { UDP { IPv4_Destination_Address 010.1.1.1 Port 3780 Interface eth1 } }'), ['CFG_BAD_VALUE']);
    assert.deepEqual(codesOf('Sync { UDP { IPv4_Destination_Address 10.1.1.1 Port x Interface eth1 } }'), ['CFG_SYNTAX']);
  });

  it('throws ConfigErrors whose message lists every error and which carries the warnings', () => {
    try {
      parseConntrackdConfig('General { Nice -1 HashSize 0 hashlimit 5 }', 'm.conf');
      assert.fail('accepted');
    } catch (e) {
      assert.ok(e instanceof ConfigErrors);
      assert.equal(e.name, 'ConfigErrors');
      assert.equal(e.message.split('\n').length, 2);
      assert.match(e.message, /^m\.conf:1:28: HashSize 0/);
      assert.deepEqual(e.warnings.map((w) => `${w.line}:${w.col} ${w.code}`), ['1:1 CFG_MISSING', '1:11 CFG_DEPRECATED']);
    }
  });
});
