// realTimers (src/failover/timers.ts) on the real event loop: an expired timer's callback waits
// for the I/O phase of the same turn, so a packet that was already waiting cancels it.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { realTimers } from '../../src/failover/timers.js';

/** busy blocks the event loop for `ms` (the process "woke late"). */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('realTimers', () => {
  it('a datagram waiting when the loop wakes is handled before an expired timer, which it can cancel', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    try {
      let fired = false;
      const h = realTimers.set(1000, () => (fired = true)); // Master_Down_Timer, 1 ms
      const heard = new Promise<void>((r) =>
        sock.once('message', () => {
          realTimers.clear(h); // an advert restarts the timer
          r();
        }),
      );
      sock.send('advert', sock.address().port, '127.0.0.1');
      busy(20); // both the timer and the datagram are due when the loop runs again
      await heard;
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 5));
      assert.equal(fired, false, 'the expiry came after the advert it was cancelled by');
    } finally {
      sock.close();
    }
  });

  it('fires when nothing cancels it, and never after clear', async () => {
    const order: string[] = [];
    realTimers.set(1000, () => order.push('a'));
    const b = realTimers.set(1000, () => order.push('b'));
    setTimeout(() => realTimers.clear(b), 1); // expires with them: cancels b between its expiry and its callback
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(order, ['a']);
  });
});
