// The daemon's node flags: which of them a command line lacks (the `-d` child gets those added).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DAEMON_NODE_FLAGS, missingDaemonFlags } from '../../src/daemon/node-flags.js';

describe('missingDaemonFlags', () => {
  it('all of them for a bare node, none once given', () => {
    assert.deepEqual(missingDaemonFlags([]), [...DAEMON_NODE_FLAGS]);
    assert.deepEqual(missingDaemonFlags([...DAEMON_NODE_FLAGS, '--inspect']), []);
  });

  it("a flag given with a value of the caller's own counts as given (V8 would take the last one)", () => {
    assert.deepEqual(missingDaemonFlags(['--single-threaded-gc', '--max-semi-space-size=16']), []);
    assert.deepEqual(missingDaemonFlags(['--max_semi_space_size=16']), ['--single-threaded-gc']);
  });
});
