import { writeSync } from 'node:fs';

/**
 * Sink is where a command writes: stdout through a large buffer (one write(2) per ~1 MiB, as
 * stdio would batch), stderr unbuffered. Writes are synchronous so the order between the two
 * streams is what conntrack's would be, and a closed pipe surfaces as PipeClosed.
 */
export interface Sink {
  /** fd is the file descriptor behind out(), when there is one (another thread may write to it after flush()). */
  readonly fd?: number;
  out(s: string): void;
  /** outBytes writes already-encoded UTF-8 output, after everything written with out() so far. */
  outBytes(b: Uint8Array): void;
  err(s: string): void;
  flush(): void;
}

/** PipeClosed is EPIPE on stdout: the reader went away (conntrack dies of SIGPIPE there). */
export class PipeClosed extends Error {
  override readonly name = 'PipeClosed';
}

const wait = new Int32Array(new SharedArrayBuffer(4));

/** writeAll writes every byte to fd, waiting out EAGAIN on a non-blocking descriptor. */
export function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off, data.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(wait, 0, 0, 1);
        continue;
      }
      if (code === 'EPIPE') throw new PipeClosed('stdout closed');
      throw e;
    }
  }
}

/** FdSink writes to file descriptors 1 and 2. */
export class FdSink implements Sink {
  private buf = '';
  get fd(): number {
    return this.outFd;
  }
  constructor(
    private readonly outFd = 1,
    private readonly errFd = 2,
    private readonly limit = 1 << 20,
  ) {}
  out(s: string): void {
    this.buf += s;
    if (this.buf.length >= this.limit) this.flush();
  }
  outBytes(b: Uint8Array): void {
    this.flush();
    writeAll(this.outFd, b);
  }
  err(s: string): void {
    try {
      writeAll(this.errFd, Buffer.from(s, 'utf8'));
    } catch {
      // nowhere left to report to
    }
  }
  flush(): void {
    if (this.buf === '') return;
    const b = Buffer.from(this.buf, 'utf8');
    this.buf = '';
    writeAll(this.outFd, b);
  }
}

/** MemorySink collects output (tests). */
export class MemorySink implements Sink {
  stdout = '';
  stderr = '';
  out(s: string): void {
    this.stdout += s;
  }
  outBytes(b: Uint8Array): void {
    this.stdout += Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  }
  err(s: string): void {
    this.stderr += s;
  }
  flush(): void {}
}
