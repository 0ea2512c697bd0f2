// `keepstate conntrack -E` against `conntrack -E` (1.4.7): both listen in the same namespace at the
// same time, the test makes events (entries created, updated and deleted with conntrack, and a
// kernel-made entry from loopback traffic), stops both with SIGTERM and compares what they printed:
// every event line, the [USERSPACE] portid/progname suffix, the XML framing and the summary line.
// Probe entries, created until both listeners are seen to receive them, mark where the compared
// part starts and ends; their lines are removed and the summary counts are corrected for them.
// Normalised: the gettimeofday() prefix of -o timestamp and the <when> element of XML, which
// carry each process's own clock.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { keepstateCommand, normalizeStderr, NsRunner, type Running } from '../cli/lab.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const skip = rootSkipReason();

type Probe = 'udp' | 'tcp' | 'udp6';
const PROBES: Readonly<Record<Probe, { start: string; end: string; dst: string }>> = {
  udp: { start: '203.0.113.201', end: '203.0.113.209', dst: '203.0.113.202' },
  tcp: { start: '203.0.113.201', end: '203.0.113.209', dst: '203.0.113.202' },
  udp6: { start: '2001:db8::201', end: '2001:db8::209', dst: '2001:db8::202' },
};

function probe(r: NsRunner, kind: Probe, addr: string): void {
  const p = kind === 'tcp' ? ['-p', 'tcp', '--sport', '1', '--dport', '2', '--state', 'ESTABLISHED'] : ['-p', 'udp', '--sport', '1', '--dport', '2'];
  r.conntrack(['-I', '-s', addr, '-d', PROBES[kind].dst, ...p, '-t', '100']);
  r.conntrack(['-D', '-s', addr, ...p.slice(0, 2)]);
}

/** untilBoth repeats the probe until both listeners printed it. */
async function untilBoth(r: NsRunner, a: Running, b: Running, kind: Probe, addr: string): Promise<void> {
  const until = Date.now() + 15_000;
  for (;;) {
    probe(r, kind, addr);
    const seen = (x: Running): boolean => x.stdout.includes(addr);
    if (seen(a) && seen(b)) return;
    if (Date.now() > until) throw new Error(`listeners not ready:\n${a.stderr}\n${b.stderr}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

function clean(text: string): { text: string; probes: number } {
  let probes = 0;
  // A last line without its newline was cut off when the tool was stopped (conntrack prints the
  // -o timestamp prefix before the event itself): it is no event, on either side.
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  const lines = complete.split('\n').filter((l) => {
    if (Object.values(PROBES).some((p) => l.includes(`${p.start} `) || l.includes(`${p.end} `) || l.includes(`>${p.start}<`) || l.includes(`>${p.end}<`))) {
      probes++;
      return false;
    }
    return true;
  });
  const out = lines
    .join('\n')
    .replace(/^\[\d{8,}\.\d{6}\]\t/gm, '[time]\t')
    .replace(/<when>.*?<\/when>/g, '<when/>')
    // progname is looked up when the event is printed: found only while the sender still runs.
    .replace(/ progname=\S+$/gm, '');
  return { text: out, probes };
}

function summary(stderr: string, probes: number): string {
  return normalizeStderr(stderr).replace(/(\d+) flow events/, (_m, n: string) => `${Number(n) - probes} flow events`);
}

const EVENTS: readonly (readonly string[])[] = [
  ['-I', '-p', 'tcp', '-s', '203.0.113.1', '-d', '203.0.113.2', '--sport', '10', '--dport', '20', '--state', 'SYN_SENT', '-t', '100', '-m', '3'],
  ['-I', '-p', 'udp', '-s', '203.0.113.7', '-d', '203.0.113.8', '--sport', '10', '--dport', '20', '-t', '100', '-w', '4'],
  ['-I', '-p', 'udp', '-s', '203.0.113.3', '-d', '203.0.113.4', '--sport', '53', '--dport', '53', '-t', '100'],
  ['-I', '-p', 'icmp', '--icmp-type', '8', '--icmp-code', '0', '--icmp-id', '9', '-s', '203.0.113.5', '-d', '203.0.113.6', '-t', '100'],
  ['-I', '-p', 'udp', '-s', '2001:db8::5', '-d', '2001:db8::6', '--sport', '1', '--dport', '2', '-t', '100'],
  // -u before -m: conntrack 1.4.7 stores the status into the mark template, so the order matters
  ['-U', '-p', 'tcp', '-f', 'ipv4', '-u', 'SEEN_REPLY', '-m', '5'],
  ['-U', '-p', 'udp', '-f', 'ipv4', '-t', '200'],
  ['-D', '-p', 'udp', '-f', 'ipv4'],
  ['-D', '-p', 'tcp'],
  ['-D', '-p', 'icmp'],
  ['-D', '-f', 'ipv6'],
];

const CASES: readonly { args: readonly string[]; probe: Probe | 'update' }[] = [
  { args: [], probe: 'udp' },
  { args: ['-o', 'extended,id'], probe: 'udp' },
  { args: ['-o', 'xml'], probe: 'udp' },
  { args: ['-o', 'xml,timestamp,extended'], probe: 'udp' },
  { args: ['-o', 'save'], probe: 'udp' },
  { args: ['-o', 'timestamp'], probe: 'udp' },
  { args: ['-e', 'NEW,DESTROY'], probe: 'udp' },
  { args: ['-e', 'UPDATES'], probe: 'update' },
  { args: ['-p', 'tcp'], probe: 'tcp' },
  { args: ['-s', '203.0.113.0/24', '-p', 'udp'], probe: 'udp' },
  { args: ['-f', 'ipv6'], probe: 'udp6' },
  { args: ['-b', '1000000'], probe: 'udp' },
  { args: ['-m', '5'], probe: 'update' },
];

describe('keepstate conntrack -E prints the events conntrack -E prints', { skip, timeout: 240_000 }, () => {
  let ns: Netns;
  let runner: NsRunner;
  let scratch: string;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'ks-cli-ev-'));
    ns = Netns.create('cliev');
    ns.spawn('sleep', ['infinity'], { stdio: 'ignore' });
    runner = new NsRunner(ns, scratch, undefined);
    runner.conntrack(['-F']);
    // Events for every entry, not only those made while a listener existed.
    ns.sysctl('net.netfilter.nf_conntrack_events', 1);
  });
  after(() => {
    ns?.close();
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  for (const c of CASES) {
    test(`-E ${c.args.join(' ')}`, async () => {
      // -e UPDATES and -m filter out the probes' NEW events: those probe with updates instead.
      const a = runner.spawn(['conntrack', '-E', ...c.args]);
      const b = runner.spawn([...keepstateCommand(), 'conntrack', '-E', ...c.args]);
      const kind = c.probe;
      try {
        if (kind === 'update') await untilUpdate(runner, a, b, PROBES.tcp.start);
        else await untilBoth(runner, a, b, kind, PROBES[kind].start);
        for (const e of EVENTS) runner.conntrack(e);
        // an entry the kernel makes: loopback UDP
        ns.exec(process.execPath, ['-e', "const u = require('dgram').createSocket('udp4'); u.send('x', 9, '127.0.0.1', () => u.close());"]);
        if (kind === 'update') await untilUpdate(runner, a, b, PROBES.tcp.end);
        else await untilBoth(runner, a, b, kind, PROBES[kind].end);
        const ra = await a.stop();
        const rb = await b.stop();
        const ca = clean(ra.stdout);
        const cb = clean(rb.stdout);
        assert.equal(cb.text, ca.text, 'event lines');
        assert.equal(summary(rb.stderr, cb.probes), summary(ra.stderr, ca.probes), `stderr (exit statuses ${ra.status} and ${rb.status})`);
        assert.equal(rb.status, ra.status, 'exit status');
        assert.ok(ca.text.trim().length > 0, 'events were printed');
      } finally {
        a.kill();
        b.kill();
        runner.conntrack(['-F']);
      }
    });
  }
});

/** untilUpdate probes with an update (mark 5 on a TCP entry) until both listeners printed it. */
async function untilUpdate(r: NsRunner, a: Running, b: Running, addr: string): Promise<void> {
  r.conntrack(['-I', '-s', addr, '-d', PROBES.tcp.dst, '-p', 'tcp', '--sport', '1', '--dport', '2', '--state', 'ESTABLISHED', '-t', '100']);
  const until = Date.now() + 15_000;
  try {
    for (let i = 0; ; i++) {
      // alternate the mark: every change is an UPDATE event, every other one carries mark 5
      r.conntrack(['-U', '-s', addr, '-p', 'tcp', '-m', i % 2 === 0 ? '5' : '6']);
      const seen = (x: Running): boolean => x.stdout.includes(addr);
      if (seen(a) && seen(b)) return;
      if (Date.now() > until) throw new Error(`listeners not ready:\n${a.stderr}\n${b.stderr}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  } finally {
    r.conntrack(['-D', '-s', addr, '-p', 'tcp']);
  }
}
