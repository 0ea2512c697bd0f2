import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { BatchSender } from '../netlink/batch-sender.js';
import type { CommitThreadReply, CommitThreadRequest } from './committer.js';

/**
 * The commit thread (worker entry): its own ctnetlink socket in the node's namespace, so that
 * the kernel's work of a commit — it runs inside sendmsg — happens on this thread while the main
 * thread goes on taking the events the commit causes (conntrackd forks a child for the same
 * reason). It sends the payloads it is given and reports which failed.
 */
if (parentPort === null) throw new Error('commit-thread.js runs as a worker thread');
const port: MessagePort = parentPort;
const netns = (workerData as { netns?: string } | undefined)?.netns;
const NETLINK_NETFILTER = 12;
const sender = BatchSender.open(NETLINK_NETFILTER, 'commit', netns !== undefined ? { netns } : {});
port.postMessage({ kind: 'ready', portId: sender.portId } satisfies CommitThreadReply);

// Chunks are sent one after the other (one batch at a time on the socket).
let queue: Promise<void> = Promise.resolve();
port.on('message', (m: CommitThreadRequest) => {
  queue = queue.then(() => handle(m));
});

function handle(m: CommitThreadRequest): Promise<void> {
  return sender.send(m.buf, m.ends).then(
    (refused) => {
      const failures = refused.map((f) => ({ i: f.i, errno: f.errno, code: f.code, message: `${m.op} conntrack: ${f.code}${f.extAckMsg !== undefined ? ` (${f.extAckMsg})` : ''}` }));
      port.postMessage({ kind: 'done', id: m.id, failures } satisfies CommitThreadReply);
    },
    (e: unknown) => port.postMessage({ kind: 'failed', id: m.id, message: String(e) } satisfies CommitThreadReply),
  );
}
