// The command runner over a scripted CtKernel port (the kernel itself is exercised by
// test/kernel/cli-*): summary lines and exit statuses, the modifier-socket read-back of -U, -S
// and -C output, --load-file parsing, and the PipeClosed path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Conntrack, CpuStats, ExpCpuStats, Expectation } from '../../src/ctnetlink/types.js';
import type { CtKernel } from '../../src/cli/conntrack/kernel.js';
import { parseLabelMap } from '../../src/cli/conntrack/labels.js';
import { MemorySink, PipeClosed, type Sink } from '../../src/cli/conntrack/output.js';
import { runConntrack, splitParams, talk, type Datagram, type RunIo } from '../../src/cli/conntrack/run.js';
import { LABELS } from './lab.js';
import { NativeUnavailableError } from '../../src/native/binding.js';

function entry(i: number): Conntrack {
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src: `10.0.0.${i}`, dst: '10.0.1.1', proto: 17, srcPort: 1000 + i, dstPort: 53 },
    reply: { family: 'ipv4', src: '10.0.1.1', dst: `10.0.0.${i}`, proto: 17, srcPort: 53, dstPort: 1000 + i },
    status: 8,
    timeout: 30,
    mark: 0,
    use: 1,
  };
}

class FakeKernel implements CtKernel {
  table: Conntrack[] = [entry(1), entry(2), entry(3)];
  calls: string[] = [];
  failCount = false;
  async *dump(): AsyncIterable<readonly Conntrack[]> {
    this.calls.push('dump');
    yield this.table.slice(0, 2);
    yield this.table.slice(2);
  }
  async get(ct: Conntrack): Promise<Conntrack> {
    this.calls.push('get');
    const hit = this.table.find((e) => e.orig?.src === ct.orig?.src && e.orig?.srcPort === ct.orig?.srcPort);
    if (hit === undefined) throw Object.assign(new Error('ENOENT'), { errno: 2 });
    return { ...hit, ...(ct.timeout !== undefined ? { timeout: ct.timeout } : {}) };
  }
  async create(): Promise<void> {
    this.calls.push('create');
    throw Object.assign(new Error('EEXIST'), { errno: 17 });
  }
  async update(ct: Conntrack): Promise<void> {
    this.calls.push('update');
    this.table = this.table.map((e) => (e.orig?.src === ct.orig?.src ? { ...e, ...(ct.timeout !== undefined ? { timeout: ct.timeout } : {}) } : e));
  }
  async delete(): Promise<void> {
    this.calls.push('delete');
  }
  async flush(): Promise<void> {
    this.calls.push('flush');
  }
  async *dumpExpectations(): AsyncIterable<readonly Expectation[]> {
    yield [];
  }
  async getExpectation(): Promise<Expectation> {
    throw Object.assign(new Error('ENOENT'), { errno: 2 });
  }
  async createExpectation(): Promise<void> {}
  async deleteExpectation(): Promise<void> {}
  async flushExpectations(): Promise<void> {}
  async count(): Promise<number> {
    if (this.failCount) throw Object.assign(new Error('EPERM'), { errno: 1 });
    return this.table.length;
  }
  async statsPerCpu(): Promise<CpuStats[]> {
    return [
      { cpu: 0, found: 1, invalid: 2, insert: 3, chainTooLong: 0 },
      { cpu: 12, found: 0, invalid: 0, insert: 4, chainTooLong: 0 },
    ];
  }
  async expStatsPerCpu(): Promise<ExpCpuStats[]> {
    return [{ cpu: 0, new: 1, create: 2, delete: 3 }];
  }
  close(): void {}
}

function harness(k: FakeKernel, files: Record<string, string> = {}, sink: Sink = new MemorySink()): RunIo {
  return {
    sink,
    argv0: 'keepstate conntrack',
    parse: { stderr: (s) => sink.err(s), loadLabels: () => ({ map: parseLabelMap(LABELS)! }), protocols: () => '', env: {} },
    openKernel: () => k,
    subscribe: () => {
      throw new Error('no events here');
    },
    onStop: () => () => undefined,
    nowMs: () => 1_700_000_000_000,
    readFile: (p) => {
      const f = files[p];
      if (f === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return f;
    },
    progname: () => undefined,
  };
}

async function run(args: string[], k = new FakeKernel(), files: Record<string, string> = {}): Promise<{ status: number; out: string; err: string; k: FakeKernel }> {
  const sink = new MemorySink();
  const status = await runConntrack(args, harness(k, files, sink));
  return { status, out: sink.stdout, err: sink.stderr, k };
}

const P = 'conntrack v1.4.7 (keepstate 0.1.0): ';

test('-L prints every entry and the summary; exit 0 even when empty', async () => {
  const r = await run(['-L']);
  assert.equal(r.out.split('\n').length, 4);
  assert.equal(r.err, `${P}3 flow entries have been shown.\n`);
  assert.equal(r.status, 0);
  const k = new FakeKernel();
  k.table = [];
  assert.equal((await run(['-L'], k)).status, 0);
});

test('-L filters in user space: -p, -s, --dport', async () => {
  const r = await run(['-L', '-s', '10.0.0.2']);
  assert.equal(r.out, 'udp      17 30 src=10.0.0.2 dst=10.0.1.1 sport=1002 dport=53 [UNREPLIED] src=10.0.1.1 dst=10.0.0.2 sport=53 dport=1002 mark=0 use=1\n');
  assert.equal(r.err, `${P}1 flow entries have been shown.\n`);
  assert.equal((await run(['-L', '-p', 'tcp'])).out, '');
  assert.equal((await run(['-L', '-p', 'udp', '--dport', '53'])).err, `${P}3 flow entries have been shown.\n`);
});

test('-I failing with EEXIST: conntrack\'s message and exit 1; -A ignores EEXIST', async () => {
  const r = await run(['-I', '-p', 'udp', '-s', '1.1.1.1', '-d', '2.2.2.2', '--sport', '1', '--dport', '2', '-t', '5']);
  assert.equal(r.err, `${P}Operation failed: Such conntrack exists, try -U to update\n`);
  assert.equal(r.status, 1);
  const a = await run(['-A', '-p', 'udp', '-s', '1.1.1.1', '-d', '2.2.2.2', '--sport', '1', '--dport', '2', '-t', '5']);
  assert.equal(a.err, `${P}0 flow entries have been added.\n`);
  assert.equal(a.status, 0);
});

test('-G of a missing entry', async () => {
  const r = await run(['-G', '-p', 'udp', '-s', '9.9.9.9', '-d', '2.2.2.2', '--sport', '1', '--dport', '2']);
  assert.equal(r.err, `${P}Operation failed: such conntrack doesn't exist\n`);
  assert.equal(r.status, 1);
});

test('-U reads its modifier replies one datagram behind from the second entry on', async () => {
  const r = await run(['-U', '-p', 'udp', '-f', 'ipv4', '-t', '99']);
  // three entries updated; conntrack 1.4.7 prints the first, then (one reply late) nothing for the
  // second and the third entry's line never arrives before the socket closes
  assert.equal(r.err, `${P}3 flow entries have been updated.\n`);
  assert.equal(r.out.trim().split('\n').length, 1);
  assert.ok(r.out.startsWith('udp      17 99 src=10.0.0.1 '));
  assert.deepEqual(r.k.calls.filter((c) => c !== 'dump'), ['update', 'get', 'update', 'get', 'update', 'get']);
});

test('talk: one datagram per request, stale ones accepted within the same second', () => {
  const q: Datagram[] = [{ kind: 'ack', seq: 5 }];
  assert.deepEqual(talk(q, 5, undefined), { res: 0, errno: 0 });
  q.push({ kind: 'data', ct: entry(1), seq: 5 }, { kind: 'ack', seq: 5 });
  const seen: Conntrack[] = [];
  assert.deepEqual(talk(q, 5, (c) => seen.push(c)), { res: 1, errno: 0 });
  assert.equal(seen.length, 1);
  assert.deepEqual(talk(q, 6, undefined), { res: -1, errno: 71 }, 'a reply of another second: EPROTO');
  q.push({ kind: 'err', errno: 2, seq: 7 });
  assert.deepEqual(talk(q, 7, undefined), { res: -1, errno: 2 });
});

test('-D with nothing matched exits 1', async () => {
  const r = await run(['-D', '-p', 'tcp']);
  assert.equal(r.err, `${P}0 flow entries have been deleted.\n`);
  assert.equal(r.status, 1);
});

test('-C, and its /proc fallback', async () => {
  assert.equal((await run(['-C'])).out, '3\n');
  const k = new FakeKernel();
  k.failCount = true;
  assert.equal((await run(['-C'], k, { '/proc/sys/net/netfilter/nf_conntrack_count': '42\n' })).out, '42\n');
  const none = await run(['-C'], k);
  assert.equal(none.err, `${P}Can't open /proc/sys/net/netfilter/nf_conntrack_count\n`);
  assert.equal(none.status, 1);
});

test('-S and -S expect print the attributes present, in kernel order', async () => {
  assert.equal((await run(['-S'])).out, 'cpu=0   \tfound=1 invalid=2 insert=3 chaintoolong=0 \ncpu=12  \tfound=0 invalid=0 insert=4 chaintoolong=0 \n');
  assert.equal((await run(['-S', 'expect'])).out, 'cpu=0   \texpect_new=1 expect_create=2 expect_delete=3 \n');
});

test('-F prints its line; -V and no command', async () => {
  const f = await run(['-F']);
  assert.equal(f.err, `${P}connection tracking table has been emptied.\n`);
  assert.equal((await run(['-V'])).out, 'conntrack v1.4.7 (keepstate 0.1.0)\n');
  const u = await run([]);
  assert.ok(u.out.startsWith('Command line interface for the connection tracking system. Version 1.4.7\nUsage: keepstate conntrack [commands] [options]\n'));
  assert.equal(u.status, 0);
});

test('-h -p tcp adds the extension help', async () => {
  const r = await run(['-h', '-p', 'tcp']);
  assert.ok(r.out.endsWith("Proto `tcp' help:\n  --orig-port-src\t\toriginal source port\n  --orig-port-dst\t\toriginal destination port\n  --reply-port-src\t\treply source port\n  --reply-port-dst\t\treply destination port\n  --mask-port-src\t\tmask source port\n  --mask-port-dst\t\tmask destination port\n  --tuple-port-src\t\texpectation tuple src port\n  --tuple-port-src\t\texpectation tuple dst port\n  --state\t\t\tTCP state, fe. ESTABLISHED\n"));
});

test('--load-file: quoting, comments, allowed commands', async () => {
  assert.deepEqual(splitParams('-I -p tcp  --label-add "blue \\"sky\\"" x\n'), ['-I', '-p', 'tcp', '--label-add', 'blue "sky"', 'x']);
  const ok = await run(['-R', '/f'], new FakeKernel(), { '/f': '# c\n\n  -F\n-D -p tcp\n' });
  assert.equal(ok.status, 0);
  assert.equal(ok.err, `${P}connection tracking table has been emptied.\n`);
  const bad = await run(['-R', '/f'], new FakeKernel(), { '/f': '-F\n-L\n' });
  assert.equal(bad.err, `${P}Cannot use command \`-L' with --load-file\nTry \`keepstate conntrack -h' or 'keepstate conntrack --help' for more information.\n`);
  assert.equal(bad.status, 2);
  const missing = await run(['-R', '/nope']);
  assert.equal(missing.err, `${P}Failed to open file /nope for reading\nTry \`keepstate conntrack -h' or 'keepstate conntrack --help' for more information.\n`);
});

test('a closed stdout ends the run with 141, like SIGPIPE', async () => {
  const sink: Sink = {
    out: () => {
      throw new PipeClosed('stdout closed');
    },
    outBytes: () => {
      throw new PipeClosed('stdout closed');
    },
    err: () => undefined,
    flush: () => undefined,
  };
  assert.equal(await runConntrack(['-L'], harness(new FakeKernel(), {}, sink)), 141);
});

test('-o json: one object per line', async () => {
  const r = await run(['-L', '-o', 'json', '-s', '10.0.0.3']);
  assert.deepEqual(JSON.parse(r.out), {
    family: 'ipv4',
    proto: 'udp',
    protonum: 17,
    timeout: 30,
    original: { src: '10.0.0.3', dst: '10.0.1.1', sport: 1003, dport: 53 },
    reply: { src: '10.0.1.1', dst: '10.0.0.3', sport: 53, dport: 1003 },
    status: ['CONFIRMED'],
    mark: 0,
    use: 1,
  });
});

test('a missing native addon is reported in its own sentence, a refused socket in conntrack words', async () => {
  for (const [thrown, want] of [
    [new NativeUnavailableError("keepstate's native addon could not be loaded (gone): run `npm install` in /x on Linux with a C compiler."), "keepstate's native addon could not be loaded (gone)"],
    [Object.assign(new Error('socket: EMFILE'), { code: 'EMFILE' }), "Can't open handler"],
  ] as const) {
    const sink = new MemorySink();
    const io: RunIo = {
      ...harness(new FakeKernel(), {}, sink),
      openKernel: () => {
        throw thrown;
      },
    };
    assert.equal(await runConntrack(['-L'], io), 1);
    assert.ok(sink.stderr.startsWith(P + want), sink.stderr);
  }
});
