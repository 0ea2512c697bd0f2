// The two ends of the lab's traffic, run as a child process inside a namespace:
//
//   node traffic-peer.js server ADDR PORT
//     echoes every byte back; prints "listening".
//   node traffic-peer.js client ADDR PORT IDLE SENDING INTERVAL_MS
//     opens IDLE idle and SENDING sending TCP connections to ADDR:PORT. A sending connection writes
//     "s<seq>\n" every INTERVAL_MS and expects its lines back in order.
//
// The client's protocol (lab/traffic.ts reads it), one line each, ids 0…IDLE+SENDING-1 (idle ones
// first). Times are milliseconds on this process's monotonic clock.
//   out: conn ID idle|send LOCALPORT       a connection is established
//   out: ready                             all are
//   out: err ID CODE | close ID            a connection failed (ECONNRESET is a reset) or closed
//   in:  mark LABEL                        remember now as LABEL's instant (the failure)
//   out: marked LABEL EPOCH_MS              (the mark's wall-clock time, to relate it to other processes)
//   out: first LABEL ID MS                 the first echo, on sending connection ID, of a line
//                                          sent after LABEL's mark: MS after the mark
//   in:  probe LABEL                       write "p<LABEL>\n" on every idle connection
//   out: probed LABEL ID                   its echo came back on idle connection ID
//   in:  stats
//   out: stat ID KIND sent N echoed N maxgap MS bad N     (maxgap: the longest wait for an echo
//   out: stats end                          on a sending connection while one was outstanding,
//                                          since the previous stats request)
import { createConnection, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const out = (line: string): void => void process.stdout.write(`${line}\n`);

function server(addr: string, port: number): void {
  createServer((s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  }).listen(port, addr, () => out('listening'));
}

interface Conn {
  readonly id: number;
  readonly kind: 'idle' | 'send';
  readonly sock: Socket;
  sent: number;
  echoed: number;
  bad: number; // lines that were not the next expected one
  lastEchoAt: number; // when the last echo arrived (or the connection came up)
  maxGapMs: number;
}

function client(addr: string, port: number, idle: number, sending: number, intervalMs: number): void {
  const conns: Conn[] = [];
  const marks = new Map<string, { at: number; seqFloor: Map<number, number>; pending: Set<number> }>();
  let up = 0;
  const total = idle + sending;
  const onLine = (c: Conn, line: string): void => {
    if (c.kind === 'idle') {
      if (line.startsWith('p')) out(`probed ${line.slice(1)} ${c.id}`);
      else c.bad++;
      return;
    }
    if (line !== `s${c.echoed}`) c.bad++;
    const now = performance.now();
    c.maxGapMs = Math.max(c.maxGapMs, now - c.lastEchoAt);
    c.lastEchoAt = now;
    const seq = c.echoed++;
    for (const [label, m] of marks) {
      if (m.pending.has(c.id) && seq >= m.seqFloor.get(c.id)!) {
        m.pending.delete(c.id);
        out(`first ${label} ${c.id} ${(now - m.at).toFixed(1)}`);
      }
    }
  };
  for (let id = 0; id < total; id++) {
    const kind = id < idle ? 'idle' : 'send';
    const sock = createConnection({ host: addr, port });
    const c: Conn = { id, kind, sock, sent: 0, echoed: 0, bad: 0, lastEchoAt: 0, maxGapMs: 0 };
    conns.push(c);
    sock.setNoDelay(true);
    sock.setEncoding('utf8');
    let buf = '';
    sock.on('connect', () => {
      c.lastEchoAt = performance.now();
      out(`conn ${id} ${kind} ${sock.localPort ?? 0}`);
      if (++up === total) out('ready');
    });
    sock.on('data', (d: string) => {
      buf += d;
      let k;
      while ((k = buf.indexOf('\n')) >= 0) {
        onLine(c, buf.slice(0, k));
        buf = buf.slice(k + 1);
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => out(`err ${id} ${e.code ?? e.message}`));
    sock.on('close', () => out(`close ${id}`));
  }
  setInterval(() => {
    for (const c of conns) {
      if (c.kind !== 'send' || c.sock.readyState !== 'open') continue;
      // Only the wait while an echo is outstanding counts as a gap.
      if (c.sent === c.echoed) c.lastEchoAt = performance.now();
      c.sock.write(`s${c.sent++}\n`);
    }
  }, intervalMs);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const [cmd, label = ''] = line.split(' ');
    if (cmd === 'mark') {
      const seqFloor = new Map<number, number>();
      const pending = new Set<number>();
      for (const c of conns) {
        if (c.kind !== 'send') continue;
        seqFloor.set(c.id, c.sent); // the first line written after the mark
        pending.add(c.id);
      }
      marks.set(label, { at: performance.now(), seqFloor, pending });
      out(`marked ${label} ${(performance.timeOrigin + performance.now()).toFixed(1)}`);
    } else if (cmd === 'probe') {
      for (const c of conns) if (c.kind === 'idle' && c.sock.readyState === 'open') c.sock.write(`p${label}\n`);
    } else if (cmd === 'stats') {
      for (const c of conns) {
        out(`stat ${c.id} ${c.kind} sent ${c.sent} echoed ${c.echoed} maxgap ${c.maxGapMs.toFixed(1)} bad ${c.bad}`);
        c.maxGapMs = 0; // each stats request reports the longest gap since the previous one
      }
      out('stats end');
    }
  });
  rl.on('close', () => process.exit(0));
}

const [role, addr = '', portText = '', ...rest] = process.argv.slice(2);
const port = Number(portText);
if (role === 'server') server(addr, port);
else if (role === 'client') client(addr, port, Number(rest[0] ?? 0), Number(rest[1] ?? 0), Number(rest[2] ?? 10));
else {
  process.stderr.write('usage: traffic-peer server ADDR PORT | client ADDR PORT IDLE SENDING INTERVAL_MS\n');
  process.exit(2);
}
