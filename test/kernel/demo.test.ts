// The demo itself, end to end (lab/demo.ts, what scripts/demo.sh runs): built from the same
// compile as this test, run with 50 idle + 5 sending connections, its report read back. Every
// round must say 100 % alive and 0 resets, the replication section must show fw2 holding every
// connection, and the namespaces it made must be gone afterwards. Hang guards only.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { rootSkipReason } from '../../lab/netns.js';
import { hostHasCommand } from '../../lab/topology.js';

const DEMO = new URL('../../lab/demo.js', import.meta.url).pathname;
const HANG_MS = 150_000;
const skip = rootSkipReason() ?? (hostHasCommand('nft') ? undefined : 'nft (nftables) is not installed');

function demoNamespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith('ks-demo'));
}

/** runDemo runs the demo to its end (SIGTERM, then SIGKILL, past the hang guard) and returns its exit code and output. */
async function runDemo(args: readonly string[]): Promise<{ code: number | null; signal: string | null; out: string }> {
  const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const term = setTimeout(() => child.kill('SIGTERM'), HANG_MS); // it tears down on SIGTERM
  const kill = setTimeout(() => child.kill('SIGKILL'), HANG_MS + 15_000);
  const [code, signal] = (await new Promise((r) => child.once('exit', (c, s) => r([c, s])))) as [number | null, string | null];
  clearTimeout(term);
  clearTimeout(kill);
  return { code, signal, out };
}

describe('the demo (lab/demo.ts) with 50 idle + 5 sending connections', { skip, timeout: HANG_MS + 30_000 }, () => {
  it('reports every connection alive and no reset in all four rounds, and tears everything down', async () => {
    const before = new Set(demoNamespaces());
    const { code, signal, out } = await runDemo(['--connections', '50', '--sending', '5', '--advert', '0.1']);
    assert.equal(signal, null, `the demo ended by itself\n${out}`);
    assert.match(out, /^fw2 external cache {4}55 of them \(all\)$/m, `fw2 held every connection before the failure\n${out}`);
    // The ACK clause is there once fw2 has acknowledged a pass of fw1's (on its ACK window or its
    // one-second timer): fw2's copy can be complete before that.
    assert.match(out, /^replication lag {7}(oldest of fw1's messages unacknowledged for \d+ ms|every message of fw1 acknowledged by fw2)(; fw2's last ACK came \d+ ms after the message)?$/m, out);
    const rows = [...out.matchAll(/^(\d [a-z -9()+]+?) +(\d+)\/(\d+) +(\S+ %) +(\d+) {3}/gm)];
    assert.deepEqual(
      rows.map((m) => ({ round: m[1], alive: `${m[2]}/${m[3]}`, pct: m[4], resets: Number(m[5]) })),
      ['1 links down', '1 failback (links up)', '2 kill -9 + links down', '2 failback (reboot)'].map((round) => ({ round, alive: '55/55', pct: '100 %', resets: 0 })),
      `the summary's four rounds\n${out}`,
    );
    assert.equal((out.match(/^connections alive {3}before 55, after 55 \(100 %\)/gm) ?? []).length, 4, `each round's report\n${out}`);
    assert.equal((out.match(/^resets {14}0 /gm) ?? []).length, 4, `no resets in any round\n${out}`);
    assert.match(out, /^every connection survived every event, without a reset$/m, out);
    assert.equal(code, 0, `exit status\n${out}`);
    const left = demoNamespaces().filter((n) => !before.has(n));
    assert.deepEqual(left, [], 'the demo deleted its namespaces');
  });
});
