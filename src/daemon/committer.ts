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
  readonly op: CommitOp;
  readonly buf: Uint8Array;
  readonly ends: Uint32Array;
}

/**
 * CommitOp: create (IPCTNL_MSG_CT_NEW with NLM_F_CREATE|NLM_F_EXCL: EEXIST when the entry is
 * there), update (IPCTNL_MSG_CT_NEW without them: ctnetlink changes the entry its tuple finds,
 * ENOENT when none) or delete.
 */
export type CommitOp = 'create' | 'update' | 'delete';

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

  /** send hands a buffer of framed requests (message i ends at ends[i], seq i) to the thread (no copy). */
  send(op: CommitOp, buf: Uint8Array, ends: Uint32Array): Promise<readonly CommitFailure[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, buf, ends } satisfies CommitThreadRequest, [buf.buffer as ArrayBuffer, ends.buffer as ArrayBuffer]);
    });
  }

  private failAll(e: Error): void {
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }
}

/**
 * A batch goes to the threads in chunks, round robin: the first thread starts on the kernel's work
 * while this thread still writes the rest. The first chunk is small so that the kernel starts at
 * once; the others are small too, because writing can be the slower side: a daemon's first commit
 * runs its writer cold (~2 µs a request against the kernel's ~2–3 µs a create), and with chunks of
 * 8 192 the commit thread sat idle ~85 ms of a 370 ms commit waiting for the second one (perf,
 * 100 000 entries). A chunk costs one message each way between the threads.
 */
const FIRST_CHUNK = 256;
const CHUNK = 1024;

/** Bytes a request usually takes (a NAT'd IPv4 TCP create is ~200): a chunk's first buffer is sized by it. */
const REQUEST_BYTES = 256;

/** ChunkWriter frames requests into one chunk's buffer: nlmsghdr (seq = index in the chunk) + payload. */
class ChunkWriter {
  readonly w: Writer;
  readonly ends: Uint32Array;
  count = 0;
  /**
   * `size` requests at most; `expected` (when the caller knows how many come) sizes the buffers,
   * which go to the commit thread with the chunk and are made anew for each: an injector's batch
   * of a millisecond holds tens of entries, not a chunk's thousands.
   */
  constructor(
    readonly size: number,
    private readonly type: number,
    private readonly flags: number,
    expected = size,
  ) {
    const n = Math.max(1, Math.min(size, expected));
    this.w = new Writer(n * REQUEST_BYTES); // doubles as needed
    this.ends = new Uint32Array(n);
  }
  /** add frames one request whose payload `write` writes; false (and nothing kept) when `write` declines. */
  add<E>(item: E, write: (w: Writer, item: E) => boolean): boolean {
    const w = this.w;
    const at = w.length;
    w.u32ne(0).u16ne(this.type).u16ne(this.flags).u32ne(this.count).u32ne(0); // nlmsghdr; the kernel fills in nlmsg_pid
    if (!write(w, item)) {
      w.truncate(at);
      return false;
    }
    w.setU32ne(at, w.length - at); // nlmsg_len excludes the padding that follows
    w.align4();
    this.ends[this.count++] = w.length;
    return true;
  }

  /** full: `size` requests are in, or the ends array sized for fewer is (the chunk goes, a new one follows). */
  get full(): boolean {
    return this.count === this.ends.length;
  }
}

/** ExistingEntryJob: the requests for an entry that is in the kernel already (CommitJob has them). */
export interface ExistingEntryJob {
  readonly write: (w: Writer) => void;
  readonly writeDelete: (w: Writer) => void;
  readonly writeUpdate: (w: Writer) => void;
}

/** RunResult: the items sent (failure i is accepted[i]) and those `write` declined. */
export interface RunResult<E> {
  readonly failures: readonly CommitFailure[];
  readonly accepted: readonly E[];
  readonly declined: readonly E[];
}

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
   * run sends one request per writer (each writes a payload: struct nfgenmsg + CTA_*) and returns
   * the failures with their index in `writers`.
   */
  async run(op: CommitOp, writers: readonly ((w: Writer) => void)[]): Promise<readonly CommitFailure[]> {
    return (await this.runEach(op, writers, (w, write) => (write(w), true))).failures;
  }

  /**
   * runEach writes one request per item as it goes (`write` writes the payload, or declines the
   * item by returning false and writing nothing), handing each chunk to a thread as soon as it is
   * full, so that the kernel's work starts while the rest is still being written. Order between
   * chunks is not kept: run dependent batches (masters, then related entries) one after the other.
   * `expected` (how many items come, when `items` is not an array) sizes the chunks' buffers.
   */
  async runEach<E>(op: CommitOp, items: Iterable<E> | readonly E[], write: (w: Writer, item: E) => boolean, expected?: number): Promise<RunResult<E>> {
    const shares: Promise<readonly CommitFailure[]>[] = [];
    let t = 0;
    const { accepted, declined } = frameEach(op, items, write, expected, (buf, ends, from) => {
      shares.push(this.threads[t]!.send(op, buf, ends).then((fs) => fs.map((f) => ({ ...f, i: f.i + from }))));
      t = (t + 1) % this.threads.length;
    });
    return { failures: (await Promise.all(shares)).flat(), accepted, declined };
  }

  /**
   * updateOrRecreate handles entries whose create was refused with EEXIST: each is changed in place
   * by its reply tuple (`writeUpdate`: found only when the existing entry has the NAT binding
   * received); one not found (ENOENT) is deleted and created again. Never a delete where an update
   * does: under traffic a packet between the two gets a new entry and a new NAT port. The indices
   * (into `jobs`) of the entries updated, of those recreated, and the failures (the update's, other
   * than ENOENT, or the new create's) partition `jobs`.
   */
  async updateOrRecreate(jobs: readonly ExistingEntryJob[]): Promise<{ updated: number[]; recreated: number[]; failures: CommitFailure[] }> {
    const failures: CommitFailure[] = [];
    const rebind: number[] = [];
    const notUpdated = new Set<number>();
    for (const f of await this.run('update', jobs.map((j) => j.writeUpdate))) {
      notUpdated.add(f.i);
      if (f.code === 'ENOENT') rebind.push(f.i);
      else failures.push(f);
    }
    const updated = jobs.flatMap((_, i) => (notUpdated.has(i) ? [] : [i]));
    if (rebind.length === 0) return { updated, recreated: [], failures };
    await this.run('delete', rebind.map((i) => jobs[i]!.writeDelete));
    const notCreated = new Set<number>();
    for (const f of await this.run('create', rebind.map((i) => jobs[i]!.write))) {
      notCreated.add(f.i);
      failures.push({ ...f, i: rebind[f.i]! });
    }
    return { updated, recreated: rebind.filter((_, r) => !notCreated.has(r)), failures };
  }

  /** close ends the threads (their sockets go with them). */
  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}

/**
 * frameEach frames one `op` request per item (`write` writes its payload, or declines the item by
 * returning false and writing nothing) into chunks, and hands each chunk to `chunkDone` as soon as
 * it is full: its buffer, the end of each message in it (message i carries seq i) and the index
 * in `accepted` of its first message. `expected` (how many items come, when `items` is not an
 * array) sizes the chunks' buffers. Committer.runEach sends the chunks; bench/pipeline.ts times
 * the writing alone.
 */
export function frameEach<E>(
  op: CommitOp,
  items: Iterable<E> | readonly E[],
  write: (w: Writer, item: E) => boolean,
  expected: number | undefined,
  chunkDone: (buf: Uint8Array, ends: Uint32Array, from: number) => void,
): { accepted: E[]; declined: E[] } {
  const type = op === 'delete' ? CT_DELETE : CT_NEW;
  const flags = NLM_F.REQUEST | (op === 'create' ? NLM_F.CREATE | NLM_F.EXCL : 0);
  const accepted: E[] = [];
  const declined: E[] = [];
  let left = expected ?? (Array.isArray(items) ? items.length : Infinity);
  let chunk = new ChunkWriter(FIRST_CHUNK, type, flags, left);
  // The chunk's own buffer goes as it is (the commit thread takes it over: transferred).
  const post = (): void => chunkDone(chunk.w.written(), chunk.ends.subarray(0, chunk.count), accepted.length - chunk.count);
  for (const item of items) {
    left--;
    if (!chunk.add(item, write)) {
      declined.push(item);
      continue;
    }
    accepted.push(item);
    if (chunk.full) {
      post();
      chunk = new ChunkWriter(CHUNK, type, flags, left);
    }
  }
  if (chunk.count > 0) post();
  return { accepted, declined };
}
