// conntrack-tools' stock primary-backup.sh, unchanged but for CONNTRACKD_BIN/CONFIG/LOCK, called by
// the real keepalived on two firewalls running keepstated: fw1 is master and NATs real TCP
// connections from a LAN client to a WAN server; they replicate to fw2's external cache. fw1's LAN
// port goes down: fw2's keepalived takes the VIPs and runs the script's primary branch (-c -f -R
// -B), so the connections carry on through fw2 with the same NAT mapping, while fw1's fault branch
// (-t) purges its stale table PurgeTimeout seconds later. The port comes back: fw1 preempts and
// the connections carry on through fw1 again; fw2's backup branch (-s -t -n) purges fw2's table.
//
//   client (lan) 192.168.77.10 ── br0 ──┬── lan0 fw1 .1 ──┐          ┌── wan0 fw1 .1 ──┬── br0 ── server (wan) 192.168.78.20
//        gw = VIP 192.168.77.100         └── lan0 fw2 .2 ──┼── sync0 ─┼── wan0 fw2 .2 ──┘        replies to VIP 192.168.78.100
//                                                          10.237.0.1/.2 (FTFW over UDP)
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO, IPS } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { syncConf } from '../../lab/conntrackd.js';
import { installPrimaryBackup, Keepalived, killProcessesIn, PRIMARY_BACKUP_EXAMPLE } from '../../lab/keepalived.js';
import { nft } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';

const BIN = new URL('../../../bin/keepstated.js', import.meta.url).pathname;
const skip =
  rootSkipReason() ??
  (Keepalived.version() === undefined ? 'keepalived is not installed (scripts/setup.sh installs it)' : undefined) ??
  (existsSync(PRIMARY_BACKUP_EXAMPLE) ? undefined : `${PRIMARY_BACKUP_EXAMPLE} is missing (Debian's conntrackd package installs it)`);

const PURGE_SEC = 6; // longer than keepalived's master-down interval (≈3.4 s): the startup -t is disarmed by -f on the master
const CONNS = 3;
const LAN_VIP = '192.168.77.100';
const WAN_VIP = '192.168.78.100';
const CLIENT = '192.168.77.10';
const SERVER = '192.168.78.20';
const PORT = 8080;

/** Fw is one firewall: its namespace, keepstated files (config, log, lock, socket, the script copy) and keepalived. */
interface Fw {
  readonly name: 'fw1' | 'fw2';
  readonly n: 1 | 2; // its host number on every link
  readonly ns: Netns;
  readonly dir: string;
  readonly conf: string;
  readonly ka: Keepalived;
}

// The client opens CONNS connections, prints "connected i port", sends "<line>-i\n" on connection i
// for each line read on stdin and prints what comes back as "got i <line>".
const CLIENT_JS = `
const net = require('net');
const socks = [];
for (let i = 0; i < ${CONNS}; i++) {
  const s = net.connect({ host: '${SERVER}', port: ${PORT} }, () => console.log('connected ' + i + ' ' + s.localPort));
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (d) => { buf += d; let k; while ((k = buf.indexOf('\\n')) >= 0) { console.log('got ' + i + ' ' + buf.slice(0, k)); buf = buf.slice(k + 1); } });
  s.on('error', (e) => console.log('error ' + i + ' ' + e.code));
  s.on('close', () => console.log('closed ' + i));
  socks.push(s);
}
let inb = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { inb += d; let k; while ((k = inb.indexOf('\\n')) >= 0) { const w = inb.slice(0, k); inb = inb.slice(k + 1); socks.forEach((s, i) => s.write(w + '-' + i + '\\n')); } });
`;
const SERVER_JS = `require('net').createServer((s) => s.pipe(s)).listen(${PORT}, '${SERVER}', () => console.log('listening'));`;

describe('primary-backup.sh with keepalived 2.2 and keepstated as CONNTRACKD_BIN', { skip, timeout: 240_000 }, () => {
  const nss: Netns[] = [];
  const dirs: string[] = [];
  let lan: Netns, wan: Netns;
  let fw1: Fw, fw2: Fw;
  let client: ChildProcess | undefined;
  let clientOut = '';
  /** natOnFw1 is each connection's reply tuple on fw1 before the failover: client port → NAT'd reply. */
  const natOnFw1 = new Map<number, { dst: string; dstPort: number }>();

  const ks = (fw: Fw, ...args: string[]): { status: number; stdout: string; stderr: string } => fw.ns.run(process.execPath, [BIN, '-C', fw.conf, ...args]);
  const ksLog = (fw: Fw): string => (existsSync(join(fw.dir, 'log')) ? readFileSync(join(fw.dir, 'log'), 'utf8') : '');
  const count = (text: string, re: RegExp): number => (text.match(new RegExp(re.source, `${re.flags.replace('g', '')}g`)) ?? []).length;
  const until = async (what: string, cond: () => boolean | Promise<boolean>, hangMs = 45_000): Promise<void> => {
    const end = Date.now() + hangMs; // hang guard, not a timing assertion
    while (!(await cond())) {
      if (Date.now() > end) {
        const ctx = [fw1, fw2].map((f) => `--- ${f.name} keepstated log:\n${ksLog(f)}--- ${f.name} keepalived:\n${f.ka.output}`).join('\n');
        assert.fail(`${what} never happened\n--- client:\n${clientOut}\n${ctx}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const logCount = (fw: Fw, re: RegExp): number => count(ksLog(fw), re);
  const vips = (fw: Fw): string[] => [...fw.ns.exec('ip', ['-4', '-o', 'addr', 'show']).matchAll(/inet (192\.168\.7[78]\.100)\//g)].map((m) => m[1]!);

  /** flows lists the kernel's entries of the client's connections to the server. */
  const flows = async (fw: Fw): Promise<Conntrack[]> => {
    const c = ConntrackClient.open({ netns: fw.ns.name });
    try {
      const out: Conntrack[] = [];
      for await (const b of c.dump()) out.push(...b.filter((e) => e.orig?.proto === IPPROTO.TCP && e.orig.src === CLIENT && e.orig.dst === SERVER && e.orig.dstPort === PORT));
      return out;
    } finally {
      c.close();
    }
  };
  const clientPorts = (): number[] => [...clientOut.matchAll(/^connected \d+ (\d+)$/gm)].map((m) => Number(m[1]));
  const ping = async (word: string): Promise<void> => {
    client!.stdin!.write(`${word}\n`);
    await until(`the echo of ${word} on every connection`, () => {
      assert.doesNotMatch(clientOut, /^(error|closed) /m, 'no connection broke');
      return Array.from({ length: CONNS }, (_, i) => clientOut.includes(`got ${i} ${word}-${i}\n`)).every(Boolean);
    });
  };
  const externalFlows = (fw: Fw): number => count(ks(fw, '-e').stdout, new RegExp(`^tcp .*src=${CLIENT.replaceAll('.', '\\.')} dst=${SERVER.replaceAll('.', '\\.')} sport=\\d+ dport=${PORT} `, 'm'));

  before(async () => {
    const mk = (label: string): Netns => {
      const ns = Netns.create(label);
      nss.push(ns);
      return ns;
    };
    lan = mk('pblan');
    wan = mk('pbwan');
    const fwOf = (name: 'fw1' | 'fw2', n: 1 | 2): Fw => {
      const ns = mk(`pb${name}`);
      const dir = mkdtempSync(join(tmpdir(), `ks-pb-${name}-`));
      dirs.push(dir);
      const conf = join(dir, 'conntrackd.conf');
      writeFileSync(conf, syncConf(dir, { kind: 'udp', self: `10.237.0.${n}`, peer: `10.237.0.${3 - n}`, device: 'sync0' }, `PurgeTimeout ${PURGE_SEC}`));
      const script = installPrimaryBackup(dir, { bin: BIN, config: conf, lock: join(dir, 'lock') });
      const ka = new Keepalived(ns, {
        routerId: name,
        priority: n === 1 ? 150 : 100, // fw1 is the preferred master and takes the VIPs back (preempt)
        notify: script,
        instances: [
          { name: 'VI_LAN', iface: 'lan0', vrid: 61, vip: `${LAN_VIP}/24` },
          { name: 'VI_WAN', iface: 'wan0', vrid: 62, vip: `${WAN_VIP}/24` },
        ],
      });
      return { name, n, ns, dir, conf, ka };
    };
    fw1 = fwOf('fw1', 1);
    fw2 = fwOf('fw2', 2);

    // The LAN and WAN "switches" are bridges in the client's and the server's namespaces.
    for (const [ns, addr] of [
      [lan, `${CLIENT}/24`],
      [wan, `${SERVER}/24`],
    ] as const) {
      ns.exec('ip', ['link', 'add', 'br0', 'type', 'bridge']);
      ns.exec('ip', ['addr', 'add', addr, 'dev', 'br0']);
      ns.exec('ip', ['link', 'set', 'br0', 'up']);
    }
    lan.exec('ip', ['route', 'add', 'default', 'via', LAN_VIP]);
    for (const fw of [fw1, fw2]) {
      for (const [side, ns, net] of [
        ['lan0', lan, '192.168.77'],
        ['wan0', wan, '192.168.78'],
      ] as const) {
        const port = `${fw.name}p`;
        fw.ns.exec('ip', ['link', 'add', side, 'type', 'veth', 'peer', 'name', port, 'netns', ns.name]);
        fw.ns.exec('ip', ['addr', 'add', `${net}.${fw.n}/24`, 'dev', side]);
        fw.ns.exec('ip', ['link', 'set', side, 'up']);
        ns.exec('ip', ['link', 'set', port, 'master', 'br0']);
        ns.exec('ip', ['link', 'set', port, 'up']);
      }
      fw.ns.sysctl('net.ipv4.ip_forward', 1);
      fw.ns.sysctl('net.netfilter.nf_conntrack_events', 1);
      // Mid-stream packets of a connection the kernel has no entry for are INVALID (and dropped):
      // a connection survives the failover only if the replicated entry was committed.
      fw.ns.sysctl('net.netfilter.nf_conntrack_tcp_loose', 0);
      nft(
        fw.ns,
        `table ip ks_nat {
  chain post { type nat hook postrouting priority 100; oifname "wan0" ip saddr 192.168.77.0/24 snat to ${WAN_VIP}; }
  chain pre { type nat hook prerouting priority -100; }
}
table inet ks_filter {
  chain forward { type filter hook forward priority 0; ct state invalid drop; }
}
`,
      );
    }
    fw1.ns.exec('ip', ['link', 'add', 'sync0', 'type', 'veth', 'peer', 'name', 'sync0', 'netns', fw2.ns.name]);
    for (const fw of [fw1, fw2]) {
      fw.ns.exec('ip', ['addr', 'add', `10.237.0.${fw.n}/24`, 'dev', 'sync0']);
      fw.ns.exec('ip', ['link', 'set', 'sync0', 'up']);
    }
  });

  after(async () => {
    client?.stdin?.end();
    for (const fw of [fw1, fw2]) {
      if (fw === undefined) continue; // before() failed early
      await fw.ka.stop();
      ks(fw, '-k');
    }
    for (const ns of nss) {
      killProcessesIn(ns); // keepstated daemons -k did not reach, the client and server
      ns.close();
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the script copy differs from the stock one only in CONNTRACKD_BIN, CONNTRACKD_CONFIG and CONNTRACKD_LOCK', () => {
    const stock = readFileSync(PRIMARY_BACKUP_EXAMPLE, 'utf8').split('\n');
    const copy = readFileSync(join(fw1.dir, 'primary-backup.sh'), 'utf8').split('\n');
    assert.equal(copy.length, stock.length);
    const changed = copy.flatMap((l, i) => (l === stock[i] ? [] : [l]));
    assert.deepEqual(changed, [`CONNTRACKD_BIN=${BIN}`, `CONNTRACKD_LOCK=${join(fw1.dir, 'lock')}`, `CONNTRACKD_CONFIG=${fw1.conf}`]);
  });

  it('fw1 becomes master and runs the primary branch; fw2 stays backup and runs the backup branch', async () => {
    for (const fw of [fw1, fw2]) {
      const r = ks(fw, '-d');
      assert.equal(r.status, 0, r.stderr);
    }
    // fw2 starts once fw1 is master: it hears fw1's adverts from the start (two keepalived started
    // together would race their 0.2 s master-down skew on a loaded machine).
    fw1.ka.start();
    await fw1.ka.waitFor(/\(VI_(LAN|WAN)\) Entering MASTER STATE/, 2);
    fw2.ka.start();
    await fw2.ka.waitFor(/\(VI_LAN\) Entering BACKUP STATE/);
    for (const fw of [fw1, fw2]) assert.doesNotMatch(fw.ka.output, /cannot be accessed|Unsafe permissions|disabling/i, `${fw.name}: keepalived accepted the script`);
    await until('fw1’s primary branch (-c -f -R)', () => logCount(fw1, /resync with master conntrack table/) === 1);
    await until('fw2’s backup branch (-t), and its purge', () => logCount(fw2, /flushing kernel conntrack table \(scheduled\)/) === 1);
    assert.deepEqual(vips(fw1).sort(), [LAN_VIP, WAN_VIP]);
    assert.deepEqual(vips(fw2), []);
    assert.match(fw2.ka.output, /\(VI_LAN\) Entering BACKUP STATE/);
    assert.doesNotMatch(fw2.ka.output, /Entering MASTER STATE/);
    // Both started as backup (keepalived runs notify_backup for its initial state): -t then -n.
    // On fw1 the primary branch's -f disarmed that -t, so fw1's table was never purged.
    for (const fw of [fw1, fw2]) assert.equal(logCount(fw, new RegExp(`flushing conntrack table in ${PURGE_SEC} secs`)), 1, fw.name);
    assert.equal(logCount(fw1, /flushing kernel conntrack table \(scheduled\)/), 0);
    assert.match(ksLog(fw1), /committing all external caches\n.*Committed \d+ new entries\n(.*\n)*.*flushing caches\n.*resync with master conntrack table\n/);
  });

  it('NAT’d TCP connections through fw1 replicate to fw2’s external cache, not its kernel', async () => {
    wan.spawn(process.execPath, ['-e', SERVER_JS]);
    await until('the server', () => wan.run('ss', ['-ltn']).stdout.includes(`${SERVER}:${PORT}`));
    client = lan.spawn(process.execPath, ['-e', CLIENT_JS]);
    client.stdout!.setEncoding('utf8');
    client.stdout!.on('data', (d: string) => (clientOut += d));
    await until('the connections', () => clientPorts().length === CONNS);
    await ping('ping1');
    const onFw1 = await flows(fw1);
    assert.equal(onFw1.length, CONNS);
    for (const e of onFw1) {
      assert.ok(((e.status ?? 0) & IPS.SRC_NAT) !== 0, 'fw1 SNATs the connection');
      assert.equal(e.reply?.dst, WAN_VIP);
      natOnFw1.set(e.orig?.srcPort ?? -1, { dst: e.reply!.dst, dstPort: e.reply!.dstPort! });
    }
    assert.deepEqual([...natOnFw1.keys()].sort(), clientPorts().sort());
    await until('the flows in fw2’s external cache', () => externalFlows(fw2) === CONNS);
    assert.equal((await flows(fw2)).length, 0, 'a backup does not put them into its kernel');
  });

  it('fw1’s LAN port fails: fw2 takes the VIPs, the script commits, and the connections carry on with the same NAT mapping', async () => {
    lan.exec('ip', ['link', 'set', 'fw1p', 'down']);
    await fw2.ka.waitFor(/\(VI_(LAN|WAN)\) Entering MASTER STATE/, 2);
    await until('fw2’s primary branch (-c -f -R)', () => logCount(fw2, /resync with master conntrack table/) === 1);
    const since = ksLog(fw2).slice(ksLog(fw2).lastIndexOf('committing all external caches'));
    assert.match(since, new RegExp(`^committing all external caches\\n.*Committed \\d+ new entries\\n(.*\\n)*.*flushing caches\\n.*resync with master conntrack table\\n`));
    await until('the VIPs on fw2', () => vips(fw2).length === 2 && vips(fw1).length === 0);
    await fw1.ka.waitFor(/\(VI_LAN\) Entering FAULT STATE/);

    const onFw2 = await flows(fw2);
    assert.equal(onFw2.length, CONNS, 'committed into fw2’s kernel');
    for (const e of onFw2) {
      assert.ok(((e.status ?? 0) & IPS.SRC_NAT) !== 0, 'with its SNAT binding');
      assert.deepEqual({ dst: e.reply?.dst, dstPort: e.reply?.dstPort }, natOnFw1.get(e.orig?.srcPort ?? -1), 'the NAT port fw1 chose');
    }
    // -B: fw2's bulk reached fw1 over the sync link, which stays up.
    await until('fw2’s bulk in fw1’s external cache', () => externalFlows(fw1) === CONNS);
    await ping('ping2');
  });

  it('fw1’s fault branch (-t) purges its now stale table PurgeTimeout seconds later', async () => {
    await until('fw1’s -t', () => logCount(fw1, new RegExp(`flushing conntrack table in ${PURGE_SEC} secs`)) === 2);
    await until('fw1’s scheduled flush', () => logCount(fw1, /flushing kernel conntrack table \(scheduled\)/) === 1);
    await until('fw1’s table without the connections', async () => (await flows(fw1)).length === 0);
    await ping('ping3'); // fw2 still carries them
  });

  it('fw1’s port returns: fw1 preempts, commits what fw2 sent, carries the connections; fw2’s backup branch purges fw2', async () => {
    lan.exec('ip', ['link', 'set', 'fw1p', 'up']);
    await fw1.ka.waitFor(/\(VI_(LAN|WAN)\) Entering MASTER STATE/, 4);
    await fw2.ka.waitFor(/\(VI_LAN\) Entering BACKUP STATE/, 2);
    await until('fw1’s second primary branch', () => logCount(fw1, /resync with master conntrack table/) === 2);
    await until('the VIPs back on fw1', () => vips(fw1).length === 2 && vips(fw2).length === 0);
    const onFw1 = await flows(fw1);
    assert.equal(onFw1.length, CONNS, 'committed into fw1’s kernel again');
    for (const e of onFw1) assert.deepEqual({ dst: e.reply?.dst, dstPort: e.reply?.dstPort }, natOnFw1.get(e.orig?.srcPort ?? -1));
    await ping('ping4');
    // fw2: backup branch -s (the daemon runs: no second start), -t, -n.
    await until('fw2’s -t', () => logCount(fw2, new RegExp(`flushing conntrack table in ${PURGE_SEC} secs`)) === 2);
    await until('fw2’s scheduled flush', () => logCount(fw2, /flushing kernel conntrack table \(scheduled\)/) === 2);
    await until('fw2’s table without the connections', async () => (await flows(fw2)).length === 0);
    await until('the flows in fw2’s external cache again (fw1’s -B, and its answer to fw2’s -n)', () => externalFlows(fw2) === CONNS);
    await ping('ping5');
  });

  it('every script call reached its daemon, once per transition: no restart, no error, the lock files in place', () => {
    // keepalived logs nothing when a notify script fails and the script's `logger` goes to syslog:
    // the daemons' logs are the record. Transitions: fw1 backup → primary → fault → backup → primary,
    // fw2 backup → primary → backup. Every -t but fw1's fault one was disarmed by a later -f or ran
    // on a backup; fw1's last -t (FAULT → BACKUP) was armed over PurgeTimeout seconds before fw2's
    // last flush, so it would have run by now had the primary branch's -f not disarmed it.
    const want = {
      fw1: { commits: 2, flushes: 2, resyncs: 2, armed: 3, purged: 1 },
      fw2: { commits: 1, flushes: 1, resyncs: 1, armed: 2, purged: 2 },
    };
    for (const fw of [fw1, fw2]) {
      const log = ksLog(fw);
      const got = {
        commits: count(log, /\[notice\] committing all external caches$/m),
        flushes: count(log, /\[notice\] flushing caches$/m),
        resyncs: count(log, /\[notice\] resync with master conntrack table$/m),
        armed: count(log, new RegExp(`\\[notice\\] flushing conntrack table in ${PURGE_SEC} secs$`, 'm')),
        purged: count(log, /\[notice\] flushing kernel conntrack table \(scheduled\)$/m),
      };
      assert.deepEqual(got, want[fw.name], fw.name);
      assert.equal(count(log, /-- starting in daemon mode --/), 1, `${fw.name}: -s never failed, so the script never ran -d`);
      assert.doesNotMatch(log, /\[ERROR\]/, fw.name);
      assert.ok(existsSync(join(fw.dir, 'lock')), `${fw.name}: the script never removed the lock file`);
      assert.match(ks(fw, '-s', 'runtime').stdout, new RegExp(`flush kernel table:\\s+${want[fw.name].purged}\\n`));
    }
  });
});
