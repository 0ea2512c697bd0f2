// The notify FIFO (global_defs vrrp_notify_fifo + vrrp_notify_fifo_script) of keepstated next to
// the real keepalived 2.2.7's, with the same configuration text on both nodes: each creates its
// FIFO, starts the reader script with the FIFO's path as the last argument, and writes one line
// per event — instance and group states, and with notify_priority_changes the MASTER_PRIORITY /
// BACKUP_PRIORITY lines of a track_script weight. The lines keepstated writes are checked against
// keepalived's format and against what keepalived itself wrote for the same events.
//
//   fw1 (keepstated, 150) lan0 ── veth ── lan0 fw2 (keepalived, 100)   VRIDs 91, 92 (group G1), 93
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until as waitFor } from '../helpers/until.js';
import { syncConf } from '../../lab/conntrackd.js';
import { Keepalived, tearDownPair } from '../../lab/keepalived.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';

const MAIN = new URL('../../lab/keepstated-main.js', import.meta.url).pathname;
const skip = rootSkipReason() ?? (Keepalived.version() === undefined ? 'keepalived is not installed (scripts/setup.sh installs it)' : undefined);

/** fifoConf: the same text for both nodes but the priority and the node's own files (prefix). */
function fifoConf(dir: string, prefix: string, priority: number): string {
  const inst = (name: string, vrid: number, extra = ''): string => `vrrp_instance ${name} {
  state BACKUP
  interface lan0
  virtual_router_id ${vrid}
  priority ${priority}
  advert_int 1
  virtual_ipaddress {
    10.247.1.${vrid}/24
  }
${extra}}
`;
  return `global_defs {
  router_id ${prefix}
  script_user root
  enable_script_security
  vrrp_notify_fifo ${join(dir, `${prefix}.fifo`)}
  vrrp_notify_fifo_script ${join(dir, 'reader.sh')}
}
vrrp_script chk {
  script "/usr/bin/test ! -e ${join(dir, `${prefix}.fail`)}"
  interval 1
  weight -20
}
vrrp_sync_group G1 {
  group {
    VI_1
    VI_2
  }
}
${inst('VI_1', 91)}${inst('VI_2', 92)}${inst('VI_3', 93, '  notify_priority_changes\n  track_script {\n    chk\n  }\n')}`;
}

describe('notify FIFO: keepstated next to keepalived', { skip, timeout: 180_000 }, () => {
  let fw1: Netns, fw2: Netns;
  let dir: string;
  let conf: string;
  let ka: Keepalived;
  const ks = (...args: string[]): { status: number; stdout: string; stderr: string } => fw1.run(process.execPath, [MAIN, '-C', conf, ...args]);
  const ksLog = (): string => (existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '');
  const lines = (prefix: string): string[] => {
    const f = join(dir, `${prefix}.fifo.lines`);
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => l !== '') : [];
  };
  const until = (what: string, cond: () => boolean, hangMs = 30_000): Promise<void> => waitFor(what, cond, hangMs, 50, () => `--- keepstated FIFO:\n${lines('ks').join('\n')}\n--- keepalived FIFO:\n${lines('ka').join('\n')}\n--- keepstated log:\n${ksLog()}\n--- keepalived:\n${ka.output}`);
  const has = (prefix: string, line: string) => (): boolean => lines(prefix).includes(line);

  before(() => {
    fw1 = Netns.create('vfk1');
    fw2 = Netns.create('vfk2');
    linkVeth({ ns: fw1, ifname: 'lan0', cidr: '10.247.1.1/24' }, { ns: fw2, ifname: 'lan0', cidr: '10.247.1.2/24' });
    linkVeth({ ns: fw1, ifname: 'sync0', cidr: '10.240.0.1/24' }, { ns: fw2, ifname: 'sync0', cidr: '10.240.0.2/24' });
    dir = mkdtempSync(join(tmpdir(), 'ks-vfk-'));
    // The FIFO script: appends what it reads from the FIFO (its last argument) to <fifo>.lines.
    writeFileSync(join(dir, 'reader.sh'), '#!/bin/sh\nexec cat "$1" >> "$1.lines"\n');
    chmodSync(join(dir, 'reader.sh'), 0o755);
    conf = join(dir, 'conntrackd.conf');
    writeFileSync(conf, syncConf(dir, { kind: 'udp', self: '10.240.0.1', peer: '10.240.0.2', device: 'sync0' }));
    writeFileSync(join(dir, 'keepalived.conf'), fifoConf(dir, 'ks', 150));
    ka = new Keepalived(fw2, { routerId: 'ka', priority: 100, instances: [], notify: '/bin/true' });
    writeFileSync(ka.conf, fifoConf(dir, 'ka', 100));
  });

  after(() => tearDownPair({ ka, stopKeepstated: fw1 !== undefined ? () => void ks('-k') : undefined, namespaces: [fw1, fw2], dir }));

  it('writes keepalived\'s lines for states, groups and priority changes, and removes the FIFO it made', async () => {
    const r = ks('--keepalived', join(dir, 'keepalived.conf'), '--sync-timeout', '0', '-d');
    assert.equal(r.status, 0, `keepstated -d: ${r.stderr}\n${ksLog()}`);
    await until('keepstated master of everything', () => ['INSTANCE "VI_1" MASTER 150', 'INSTANCE "VI_2" MASTER 150', 'GROUP "G1" MASTER 0', 'INSTANCE "VI_3" MASTER 150'].every((l) => has('ks', l)()));
    const fifo = statSync(join(dir, 'ks.fifo'));
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.mode & 0o777, 0o644 & ~process.umask());

    ka.start();
    await until('keepalived backup of everything', () => ['INSTANCE "VI_1" BACKUP 100', 'INSTANCE "VI_2" BACKUP 100', 'GROUP "G1" BACKUP 0', 'INSTANCE "VI_3" BACKUP 100'].every((l) => has('ka', l)()));

    // The tracked script fails on both nodes: VI_3 drops by 20 and both tell their FIFO.
    writeFileSync(join(dir, 'ks.fail'), '');
    writeFileSync(join(dir, 'ka.fail'), '');
    await until('keepstated MASTER_PRIORITY line', has('ks', 'INSTANCE "VI_3" MASTER_PRIORITY 130'));
    await until('keepalived BACKUP_PRIORITY line', has('ka', 'INSTANCE "VI_3" BACKUP_PRIORITY 80'));

    // keepstated stops: STOP lines, its FIFO removed; keepalived takes over.
    const before = lines('ks').length;
    ks('-k');
    await until('keepstated stopped', () => !existsSync(join(dir, 'lock')));
    await until('keepalived master of VI_3', has('ka', 'INSTANCE "VI_3" MASTER 80'));
    await until('keepalived master of G1', has('ka', 'GROUP "G1" MASTER 0'));
    // keepalived's notify_shutdown order: every instance's STOP (its effective priority), then the group's.
    assert.deepEqual(lines('ks').slice(before), ['INSTANCE "VI_1" STOP 150', 'INSTANCE "VI_2" STOP 150', 'INSTANCE "VI_3" STOP 130', 'GROUP "G1" STOP 0']);
    assert.equal(existsSync(join(dir, 'ks.fifo')), false, 'the FIFO keepstated made is gone');

    // Every line is in keepalived's format, and every kind of line keepstated wrote while running,
    // keepalived wrote too. (keepalived 2.2.7 ends its FIFO script before it writes its own STOP
    // lines — vrrp_daemon.c vrrp_terminate_phase1 — so its reader never sees them.)
    const shape = /^(INSTANCE|GROUP) "[^"]+" (MASTER|BACKUP|FAULT|STOP|DELETED|MASTER_RX_LOWER_PRI|MASTER_PRIORITY|BACKUP_PRIORITY) \d+$/;
    for (const l of [...lines('ks'), ...lines('ka')]) assert.match(l, shape);
    const kinds = (p: string): Set<string> => new Set(lines(p).filter((l) => !/ STOP /.test(l)).map((l) => l.split(' ').slice(0, 3).join(' ').replace(/(MASTER|BACKUP)_PRIORITY/, 'x_PRIORITY')));
    const kaKinds = kinds('ka');
    for (const k of kinds('ks')) assert.ok(kaKinds.has(k), `keepalived never wrote a "${k}" line: ${JSON.stringify([...kaKinds])}`);
    // Both begin with the group's BACKUP line, before any instance's.
    assert.equal(lines('ks')[0], 'GROUP "G1" BACKUP 0');
    assert.equal(lines('ka')[0], 'GROUP "G1" BACKUP 0');
  });
});
