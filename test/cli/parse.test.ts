// conntrack 1.4.7's command-line checks: every expected message below was printed by the real
// conntrack 1.4.7 for the same arguments (keepstate's identity normalised back to conntrack's).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ATTR } from '../../src/cli/conntrack/ctobj.js';
import { CliExit, CMD } from '../../src/cli/conntrack/errors.js';
import { parseLabelMap } from '../../src/cli/conntrack/labels.js';
import { newSession, O, OPT, parseCommand, type CtCmd, type ParseIo } from '../../src/cli/conntrack/parse.js';
import { LABELS, normalizeStderr } from './lab.js';

const PROTOCOLS = 'ip\t0\tIP\nesp\t50\tIPSEC-ESP\nipv6-icmp 58 IPv6-ICMP\n';

function io(): ParseIo & { err: string } {
  const o = {
    err: '',
    stderr(s: string) {
      o.err += s;
    },
    loadLabels: () => ({ map: parseLabelMap(LABELS)! }),
    protocols: () => PROTOCOLS,
    env: {},
  };
  return o;
}

function parse(args: readonly string[]): { cmd: CtCmd; warnings: string } {
  const i = io();
  return { cmd: parseCommand(['conntrack', ...args], newSession(), i), warnings: i.err };
}

function failure(args: readonly string[]): { status: number; stderr: string } {
  try {
    parse(args);
  } catch (e) {
    if (e instanceof CliExit) return { status: e.status, stderr: normalizeStderr(e.stderr) };
    throw e;
  }
  assert.fail(`conntrack ${args.join(' ')} parsed without error`);
}

const P = 'conntrack v1.4.7 (conntrack-tools): ';
const TRY = "Try `conntrack -h' or 'conntrack --help' for more information.\n";

const ERRORS: readonly [args: string[], status: number, message: string][] = [
  [['-L', '-x'], 2, "unknown option `-x'"],
  [['-xL'], 2, "unknown option `conntrack'"],
  [['--foo'], 2, "unknown option `--foo'"],
  [['-L', '--or', '1.1.1.1'], 2, "unknown option `--or'"],
  [['-L', '-s'], 2, "option `-s' requires an argument"],
  [['-L', '--src'], 2, "option `--src' requires an argument"],
  [['-L', '-s', '300.1.1.1'], 2, "Invalid IP address `300.1.1.1'"],
  [['-L', '-s', '1.1.1.1/33'], 2, 'Invalid netmask'],
  [['-L', '-r', '1.1.1.1/24'], 2, "CIDR notation unavailable for `--reply-src'"],
  [['-G', '-s', '1.1.1.1'], 2, "You need to supply the `--protonum' option for this command"],
  [['-G', '-s', '1.1.1.1', '-d', '2.2.2.2', '-p', 'tcp'], 2, "you have to specify `--sport' and `--dport'"],
  [['-L', '-p', 'foo'], 2, "`foo' unsupported protocol"],
  [['-L', '-u', 'FOO'], 2, "Bad parameter `FOO'"],
  [['-L', '-u', 'ASSURED,'], 2, "Bad parameter `'"],
  [['-L', '-o', 'foo'], 2, "Bad parameter `foo'"],
  [['-L', '-o', 'save,xml'], 1, 'cannot combine save output with any other output type, use -o save only'],
  [['-L', '-o', 'json,id'], 1, 'cannot combine json output with any other output type, use -o json only'],
  [['-I', '-s', '1.1.1.1'], 2, "You need to supply the `--protonum' option for this command"],
  [['-L', '-L'], 2, 'Invalid commands combination'],
  [['-L', 'expect', '-s', '1.1.1.1'], 2, "Illegal option `--src' with this command"],
  [['-L', 'foo'], 2, "unknown type `foo'"],
  [['-U', 'expect'], 2, "Can't do --update on expectations"],
  [['-D', 'dying'], 2, "Can't do that command with tables `dying' and `unconfirmed'"],
  [['-L', '-f', 'ipv7'], 2, "`ipv7' unsupported protocol"],
  [['-L', '-s', '1.1.1.1', '-f', 'ipv6'], 2, 'mismatched address family'],
  [['-L', '--any-nat', '--src-nat'], 2, "cannot specify `--src-nat' or `--dst-nat' with `--any-nat'"],
  [['-s', '1.1.1.1'], 2, "Illegal option `--src' with this command"],
  [['-p', 'tcp'], 2, "Illegal option `--protonum' with this command"],
  [['-h', 'foo'], 2, "unknown type `foo'"],
  [['-L', '-e', 'NEW'], 2, "Illegal option `--event-mask' with this command"],
  [['-E', '-e', 'FOO'], 2, "Bad parameter `FOO'"],
  [['-L', '-l', 'foo'], 2, "unknown label 'foo'"],
  [['-I', '-p', 'tcp', '-s', '1.1.1.1', '-d', '2.2.2.2', '--sport', '1', '--dport', '2', '-t', '10', '--state', 'FOO'], 2, "unknown TCP state `FOO'"],
  [['-L', '-n', '1.2.3.4:'], 2, "No port specified after `:'"],
  [['-L', '-n', '[::1'], 2, "No closing ']' around IPv6 address"],
  [['-L', '-n', '[]:1'], 2, 'No IPv6 address specified'],
  [['-L', '-n', '1.2.3.4:99999'], 2, "Invalid port `99999'"],
  [['-L', '--s', '1.1.1.1'], 2, "unknown option `--s'"],
  [['-L', '--state', 'ESTABLISHED'], 2, "unknown option `--state'"],
  [['-L', '--dump=expect'], 2, 'Invalid commands combination'],
  [['-U', '--label-add', 'red', '--label-del', 'green'], 1, 'cannot use --label-add and --label-del at the same time'],
  [['-I', 'expect', '-s', '1.1.1.1', '-d', '2.2.2.2', '-p', 'tcp', '--sport', '1', '--dport', '2', '-t', '10'], 2, "You need to supply the `--tuple-src' option for this command"],
  [['-G', 'expect', '--orig-src', '4.4.4.4', '--orig-dst', '5.5.5.5', '--p', 'tcp', '--orig-port-src', '10240', '--orig-port-dst', '10241'], 2, "You need to supply the `--reply-port-src' option for this command"],
  [['-I', '-p', 'icmp', '-s', '1.1.1.1', '-d', '2.2.2.2', '-t', '1'], 2, "You need to supply the `--icmp-type' option for this command"],
  [['-I', '-p', 'tcp', '-r', '1.1.1.1', '-d', '2.2.2.2', '--sport', '1', '--dport', '2', '--state', 'LISTEN', '-t', '1'], 2, "you have to specify `--src' and `--dst'"],
  [['-I', '-p', 'tcp', '-r', '1.1.1.1', '--sport', '1', '--dport', '2', '--state', 'LISTEN', '-t', '1'], 2, "you have to specify `--reply-src' and `--reply-dst'"],
];

for (const [args, status, message] of ERRORS) {
  test(`conntrack ${args.join(' ')} → ${message}`, () => {
    const f = failure(args);
    assert.equal(f.stderr, P + message + '\n' + (status === 2 ? TRY : ''));
    assert.equal(f.status, status);
  });
}

test('test.sh "new": LISTEN becomes state 9 (SYN_SENT2), with the TCP flags conntrack sets', () => {
  const { cmd } = parse(['-I', '--orig-src', '1.1.1.1', '--orig-dst', '2.2.2.2', '--reply-src', '2.2.2.2', '--reply-dst', '1.1.1.1', '-p', 'tcp', '--orig-port-src', '2005', '--orig-port-dst', '21', '--reply-port-src', '21', '--reply-port-dst', '2005', '--state', 'LISTEN', '-u', 'SEEN_REPLY', '-t', '50']);
  const ct = cmd.tmpl.ct;
  assert.equal(cmd.command, CMD.CT_CREATE);
  assert.equal(ct.tcpState, 9);
  assert.equal(ct.timeout, 50);
  assert.equal(ct.status, 2);
  assert.deepEqual([ct.orig.src, ct.orig.dst, ct.orig.sport, ct.orig.dport], ['1.1.1.1', '2.2.2.2', 2005, 21]);
  assert.deepEqual([ct.repl.src, ct.repl.dst, ct.repl.sport, ct.repl.dport], ['2.2.2.2', '1.1.1.1', 21, 2005]);
  // BE_LIBERAL|SACK_PERM, plus CLOSE_INIT because 9 >= TIME_WAIT
  assert.deepEqual(ct.tcpFlags, [0x0e, 0x0e]);
});

test('--p abbreviates --protonum and a table word follows a command', () => {
  const { cmd } = parse(['-G', 'expect', '--orig-src', '4.4.4.4', '--orig-dst', '5.5.5.5', '--p', 'udp', '--orig-port-src', '1', '--orig-port-dst', '2', '--reply-port-src', '3', '--reply-port-dst', '4']);
  assert.equal(cmd.command, CMD.EXP_GET);
  assert.equal(cmd.protonum, 17);
});

test('-Lexpect is -L with an attached (ignored) argument: the conntrack table', () => {
  assert.equal(parse(['-Lexpect']).cmd.command, CMD.CT_LIST);
  assert.equal(parse(['-L', 'exp']).cmd.command, CMD.EXP_LIST);
  assert.equal(parse(['-L', '']).cmd.command, CMD.EXP_LIST);
});

test('status words: prefixes, negation, UNREPLIED and the SRC_NAT warning', () => {
  const a = parse(['-L', '-u', 'as,!seen_reply']);
  assert.equal(a.cmd.tmpl.ct.status, 4);
  assert.deepEqual(a.cmd.tmpl.filterStatusKernel, { val: 4, mask: 2 });
  const b = parse(['-L', '-u', 'UNREPLIED']);
  assert.deepEqual(b.cmd.tmpl.filterStatusKernel, { val: 0, mask: 2 });
  const c = parse(['-L', '-u', 'S']);
  assert.equal(c.warnings, 'WARNING: ignoring SRC_NAT, use --src-nat instead\n');
  // conntrack 1.4.7 copies the status into the mark template
  assert.equal(parse(['-L', '-m', '7', '-u', 'ASSURED']).cmd.tmpl.mark.value, 4);
  assert.equal(parse(['-L', '-u', 'ASSURED', '-m', '7']).cmd.tmpl.mark.value, 7);
});

test('-m value/mask, -t, -w and --sport wrap like the C conversions', () => {
  const { cmd } = parse(['-I', '-p', 'tcp', '-s', '1.1.1.1', '-d', '2.2.2.2', '--sport', '70000', '--dport', '0x10', '-t', '-1', '-w', '65537', '--state', 'ESTABLISHED', '-m', '0x10/0xf0']);
  assert.deepEqual(cmd.tmpl.mark, { value: 16, mask: 0xf0 });
  assert.equal(cmd.tmpl.ct.timeout, 0xffffffff);
  assert.equal(cmd.tmpl.ct.zone, 1);
  assert.equal(cmd.tmpl.ct.orig.sport, 4464);
  assert.equal(cmd.tmpl.ct.orig.dport, 0, 'atoi reads 0x10 as 0');
});

test('CIDR source: the address stays, the mask goes to the mask template', () => {
  const { cmd } = parse(['-L', '-s', '10.1.2.3/8']);
  assert.ok((cmd.options & OPT.MASK_SRC) !== 0);
  assert.equal(cmd.tmpl.ct.orig.src, '10.1.2.3');
  assert.equal(cmd.tmpl.mask.orig.src, '255.0.0.0');
  assert.equal(parse(['-L', '-s', '10.1.2.3/32']).cmd.options & OPT.MASK_SRC, 0);
});

test('NAT options take an optional ip[:port] and IPv6 in brackets', () => {
  const a = parse(['-I', '-p', 'tcp', '-s', '1.1.1.1', '-d', '2.2.2.2', '--sport', '1', '--dport', '2', '--state', 'LISTEN', '-t', '5', '--dst-nat', '8.8.8.8:53']).cmd.tmpl.ct;
  assert.equal(a.dnat.ip, '8.8.8.8');
  assert.equal(a.dnat.port, 53);
  assert.ok(a.has(ATTR.DNAT_IPV4) && a.has(ATTR.DNAT_PORT));
  const b = parse(['-L', '--src-nat', '[2001:db8::1]:80']).cmd;
  assert.equal(b.tmpl.ct.snat.ip, '2001:db8::1');
  assert.equal(b.family, 10);
  // an attached value is not read (get_optional_arg ignores optarg)
  assert.ok(!parse(['-L', '--src-nat=1.2.3.4']).cmd.tmpl.ct.has(ATTR.SNAT_IPV4));
});

test('labels: names from connlabel.conf, merged across -l', () => {
  const { cmd } = parse(['-L', '-l', 'red', '-l', 'blue sky,dead-beef']);
  const b = cmd.tmpl.label!;
  assert.deepEqual([0, 1, 5, 9].map((i) => b.test(i)), [true, false, true, true]);
});

test('output words accumulate; json is keepstate\'s', () => {
  const s = newSession();
  parseCommand(['conntrack', '-L', '-o', 'ext,id', '-o', 'ktimestamp'], s, io());
  assert.equal(s.outputMask, O.EXT | O.ID | O.KTMS);
  const t = newSession();
  parseCommand(['conntrack', '-L', '-o', 'json'], t, io());
  assert.equal(t.outputMask, O.JSON);
});

test('default family: AF_INET for commands that need one, unspecified for listings', () => {
  assert.equal(parse(['-L']).cmd.family, 0);
  assert.equal(parse(['-U', '-p', 'tcp']).cmd.family, 0);
  assert.equal(parse(['-L', 'expect']).cmd.family, 2);
  assert.equal(parse(['-F', 'expect']).cmd.family, 2);
  assert.equal(parse(['-L', '-f', 'ipv6']).cmd.family, 10);
});

test('a second -p routes its options through the newest extension', () => {
  // conntrack hands the option value, minus the latest merge offset, to the newest handler
  const { cmd } = parse(['-L', '-p', 'tcp', '-p', 'udp', '--sport', '5']);
  assert.equal(cmd.tmpl.ct.orig.sport, 5);
  assert.equal(cmd.tmpl.ct.orig.proto, 17);
  assert.equal(cmd.protonum, 17);
});

test('/etc/protocols names and numbers select the generic extension', () => {
  assert.equal(parse(['-L', '-p', 'esp']).cmd.protonum, 50);
  assert.equal(parse(['-L', '-p', 'ipv6-icmp']).cmd.protonum, 58);
  assert.equal(parse(['-L', '-p', '0x2f']).cmd.protonum, 47);
  assert.equal(failure(['-L', '-p', '256']).status, 2);
});
