// The notify FIFO as keepalived 2.2.7 writes it (vrrp_notify.c notify_fifo, lib/notify.c
// fifo_open / fifo_close): the line format, a missing FIFO created with mode 0644 and removed
// again, an existing one left alone, the FIFO script started with the path as its last argument
// and reading every line in order — with a real FIFO and a real /bin/sh reader.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { NotifyFifo } from '../../src/config/keepalived/types.js';
import { FIFO_MODE, Notifier, fifoLine } from '../../src/failover/notify.js';
import { ScriptRunner } from '../../src/failover/script-runner.js';
import { spawnHere, type SpawnScript } from '../../src/failover/script-spawn.js';
import { until } from '../helpers/until.js';

const loc = { file: 'keepalived.conf', line: 1, col: 1 };
const dir = mkdtempSync(join(tmpdir(), 'ks-notify-'));
// The failover process starts scripts through its script runner: every test below runs both ways.
const runner = ScriptRunner.start((_l, m) => assert.fail(m));
after(async () => {
  await runner.close();
  rmSync(dir, { recursive: true, force: true });
});

/** reader is a vrrp_notify_fifo_script that appends what it reads from the FIFO ($1) to `out`. */
function reader(out: string): NonNullable<NotifyFifo['script']> {
  return { argv: ['/bin/sh', '-c', `cat "$1" >> '${out}'`, 'fifo-reader'], loc };
}

describe('fifoLine', () => {
  it('is keepalived\'s `%s "%s" %s %d\\n`', () => {
    assert.equal(fifoLine('INSTANCE', 'VI_1', 'MASTER', 100), 'INSTANCE "VI_1" MASTER 100\n');
    assert.equal(fifoLine('GROUP', 'VG_1', 'BACKUP', 0), 'GROUP "VG_1" BACKUP 0\n');
    assert.equal(fifoLine('INSTANCE', 'VI_1', 'MASTER_RX_LOWER_PRI', 150), 'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 150\n');
    assert.equal(fifoLine('INSTANCE', 'VI_1', 'BACKUP_PRIORITY', 90), 'INSTANCE "VI_1" BACKUP_PRIORITY 90\n');
  });
});

for (const [how, spawn] of [['spawned here', spawnHere], ['spawned by the script runner', runner.spawn]] as [string, SpawnScript][]) {
  describe(`Notifier with a notify FIFO, scripts ${how}`, () => {
    it('creates a missing FIFO (0644), starts the script with its path last, writes every line in order, removes the FIFO at close', async () => {
      const path = join(dir, `created-${spawn === spawnHere ? 'here' : 'runner'}.fifo`);
      const out = join(dir, `created-${spawn === spawnHere ? 'here' : 'runner'}.out`);
      const logs: string[] = [];
      const n = new Notifier((_l, m) => logs.push(m), [{ path, script: reader(out), loc }], undefined, spawn);
      n.open();
      try {
        const st = statSync(path);
        assert.ok(st.isFIFO(), 'a FIFO was made');
        assert.equal(st.mode & 0o777, FIFO_MODE & ~process.umask());
        n.notify('INSTANCE', 'VI_1', {}, 'BACKUP', 100);
        n.notify('GROUP', 'G1', {}, 'MASTER', 0);
        n.notify('INSTANCE', 'VI_1', {}, 'MASTER', 100);
        n.masterRxLowerPriority('VI_1', {}, 100);
        n.priorityChanged('VI_1', true, 80);
        const want = ['INSTANCE "VI_1" BACKUP 100', 'GROUP "G1" MASTER 0', 'INSTANCE "VI_1" MASTER 100', 'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100', 'INSTANCE "VI_1" MASTER_PRIORITY 80', ''].join('\n');
        await until('the script read all lines', () => existsSync(out) && readFileSync(out, 'utf8') === want, 10_000);
      } finally {
        n.close();
      }
      assert.equal(existsSync(path), false, 'the FIFO made here is gone');
      await until('the FIFO script ended', () => logs.some((m) => /notify FIFO script \/bin\/sh terminated/.test(m)), 10_000);
    });

    it('uses an existing FIFO and leaves it; with no reader the lines wait in the pipe instead of blocking', async () => {
      const path = join(dir, `existing-${spawn === spawnHere ? 'here' : 'runner'}.fifo`);
      execFileSync('mkfifo', [path]);
      const n = new Notifier(() => undefined, [{ path, loc }], undefined, spawn);
      n.open();
      n.notify('INSTANCE', 'VI_2', {}, 'FAULT', 0);
      n.close();
      assert.ok(statSync(path).isFIFO(), 'the FIFO is still there');
    });

    it('runs notify_<state>, then `notify` with INSTANCE|GROUP, name, state and priority appended', async () => {
      const out = join(dir, `scripts-${spawn === spawnHere ? 'here' : 'runner'}.out`);
      const sh = (tag: string): { argv: string[]; loc: typeof loc } => ({ argv: ['/bin/sh', '-c', `echo "${tag} $*" >> '${out}'`, tag], loc });
      const n = new Notifier(() => undefined, [], undefined, spawn);
      n.notify('INSTANCE', 'VI_3', { master: sh('own'), generic: sh('generic') }, 'MASTER', 120);
      await until('both scripts ran', () => existsSync(out) && readFileSync(out, 'utf8').split('\n').length === 3, 10_000);
      // (no trim: `own ` ends with a space, and the two scripts finish in either order)
      const lines = readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').sort();
      assert.deepEqual(lines, ['generic INSTANCE VI_3 MASTER 120', 'own ']);
    });
  });
}
