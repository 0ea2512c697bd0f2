import { Worker } from 'node:worker_threads';
import { IPCTNL_MSG_CT, NFNL_SUBSYS } from '../ctnetlink/consts.js';
import { nfMsgType } from '../ctnetlink/nfgenmsg.js';
import { NLM_F } from '../netlink/consts.js';
import { Writer } from '../wire/writer.js';

/**
 * CommitThreadRequest: complete netlink messages back to back in `buf` (message i ends at ends[i]
 * and carries seq i), for the thread's BatchSender.
 */
export interface CommitThreadRequest {
  readonly id: number;
  readonly op: 'create' | 'delete';
  readonly buf: Uint8Array;
  readonly ends: Uint32Array;
}

const CT_NEW = nfMsgType(NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.NEW);
const CT_DELETE = nfMsgType(NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.DELETE);

/** CommitFailure is one request the kernel refused (its index in the batch, errno and message). */
export interface CommitFailure {
  readonly i: number;
  readonly errno: number;
  readonly code: string;
  readonly message: string;
}

export type CommitThreadReply =
  | { readonly kind: 'ready'; readonly portId: number }
  | { readonly kind: 'done'; readonly id: number; readonly failures: readonly CommitFailure[] }
  | { readonly kind: 'failed'; readonly id: number; readonly message: string };

/** CommitThread is one commit thread: its worker, its socket's netlink port, its requests in flight. */
class CommitThread {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (f: readonly CommitFailure[]) => void; reject: (e: Error) => void }>();

  private constructor(
    readonly worker: Worker,
    readonly portId: number,
  ) {
    worker.on('message', (m: CommitThreadReply) => {
      if (m.kind === 'ready') return;
      const w = this.waiting.get(m.id);
      if (w === undefined) return;
      this.waiting.delete(m.id);
      if (m.kind === 'done') w.resolve(m.failures);
      else w.reject(new Error(`commit thread: ${m.message}`));
    });
    worker.on('error', (e) => this.failAll(e));
    worker.on('exit', (code) => this.failAll(new Error(`commit thread exited (${code})`)));
  }

  static start(netns: string | undefined): Promise<CommitThread> {
    const worker = new Worker(new URL('./commit-thread.js', import.meta.url), { workerData: netns !== undefined ? { netns } : {} });
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      worker.once('error', onError);
      worker.once('message', (m: CommitThreadReply) => {
        worker.off('error', onError);
        if (m.kind !== 'ready') {
          reject(new Error('commit thread: no ready message'));
          return;
        }
        worker.unref();
        resolve(new CommitThread(worker, m.portId));
      });
    });
  }

  /** send frames the payloads of `writers` as requests in one buffer and hands it over (no copy). */
  send(op: 'create' | 'delete', writers: readonly ((w: Writer) => void)[]): Promise<readonly CommitFailure[]> {
    const w = new Writer(Math.max(256, writers.length * 176));
    const ends = new Uint32Array(writers.length);
    const type = op === 'create' ? CT_NEW : CT_DELETE;
    const flags = NLM_F.REQUEST | (op === 'create' ? NLM_F.CREATE | NLM_F.EXCL : 0);
    writers.forEach((write, i) => {
      const at = w.length;
      w.u32ne(0).u16ne(type).u16ne(flags).u32ne(i).u32ne(0); // nlmsghdr; the kernel fills in nlmsg_pid
      write(w);
      w.setU32ne(at, w.length - at); // nlmsg_len excludes the padding that follows
      w.align4();
      ends[i] = w.length;
    });
    const buf = w.finish();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, buf, ends } satisfies CommitThreadRequest, [buf.buffer as ArrayBuffer, ends.buffer]);
    });
  }

  private failAll(e: Error): void {
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }
}

/**
 * A batch goes to the threads in chunks of this many requests, round robin: the first thread
 * starts on the kernel's work while this thread still writes the rest.
 */
const CHUNK = 8192;

/**
 * Committer owns the commit threads (commit-thread.ts; one by default). The kernel's work of
 * creating entries runs inside the sending thread's sendmsg, so it no longer holds up this thread,
 * which goes on taking events and datagrams. More threads share a batch, but the kernel gains
 * little from it (100 000 NAT'd creates: ~0.40 s on one thread, ~0.39 s on two, measured on 2
 * CPUs). `portIds` are the threads' sockets' netlink ports: the events their writes cause carry one.
 */
export class Committer {
  readonly portIds: ReadonlySet<number>;

  private constructor(private readonly threads: readonly CommitThread[]) {
    this.portIds = new Set(threads.map((t) => t.portId));
  }

  /** start runs `threads` commit threads in the namespace (default one) and waits for their sockets. */
  static async start(netns: string | undefined, threads = 1): Promise<Committer> {
    const started = await Promise.allSettled(Array.from({ length: Math.max(1, threads) }, () => CommitThread.start(netns)));
    const ok = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(ok.map((t) => t.worker.terminate()));
      throw (failed as PromiseRejectedResult).reason;
    }
    return new Committer(ok);
  }

  /**
   * run sends one request per writer (each writes a payload: struct nfgenmsg + CTA_*), in chunks
   * shared between the threads, and returns the failures with their index in `writers`. Order
   * between chunks is not kept: run dependent batches (masters, then related entries) one after
   * the other.
   */
  async run(op: 'create' | 'delete', writers: readonly ((w: Writer) => void)[]): Promise<readonly CommitFailure[]> {
    const shares: Promise<readonly CommitFailure[]>[] = [];
    for (let from = 0, t = 0; from < writers.length; from += CHUNK, t = (t + 1) % this.threads.length) {
      shares.push(this.threads[t]!.send(op, writers.slice(from, from + CHUNK)).then((fs) => fs.map((f) => ({ ...f, i: f.i + from }))));
    }
    return (await Promise.all(shares)).flat();
  }

  /** close ends the threads (their sockets go with them). */
  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}
