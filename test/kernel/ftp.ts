// A real FTP expectation for namespace tests: a control connection on the namespace's loopback
// whose server answers PASV, so that the kernel's FTP helper (attached by an nftables ct helper
// rule on tcp dport 21) makes an expectation for the announced data port.
import type { ChildProcess } from 'node:child_process';

/**
 * ftpScript runs, in one process on the namespace's loopback, an FTP-ish server on 127.0.0.1:21
 * whose PASV reply offers `pasvPort`, a listener on `pasvPort`, and a client that connects, sends
 * PASV, keeps the control connection open and prints `pasv-ok <its source port>`. On the line
 * `data` on stdin it opens the data connection and prints `data-ok`.
 */
export function ftpScript(pasvPort: number): string {
  return `
const net = require('node:net'); const rl = require('node:readline');
const keep = [];
net.createServer((s) => { s.on('error', () => {}); keep.push(s); }).listen(${pasvPort}, '127.0.0.1');
net.createServer((s) => {
  s.on('error', () => {});
  s.write('220 keepstate test ftp\\r\\n');
  s.on('data', (d) => { if (String(d).startsWith('PASV')) s.write('227 Entering Passive Mode (127,0,0,1,${pasvPort >> 8},${pasvPort & 0xff})\\r\\n'); });
}).listen(21, '127.0.0.1', () => {
  const c = net.connect(21, '127.0.0.1');
  keep.push(c);
  c.on('data', (d) => {
    if (String(d).startsWith('220')) c.write('PASV\\r\\n');
    if (String(d).startsWith('227')) console.log('pasv-ok ' + c.localPort);
  });
});
rl.createInterface({ input: process.stdin }).on('line', (cmd) => {
  if (cmd === 'data') { const s = net.connect(${pasvPort}, '127.0.0.1', () => console.log('data-ok')); keep.push(s); }
});
`;
}

/** waitLine resolves with the first stdout line of `child` that starts with `prefix`. */
export function waitLine(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const guard = setTimeout(() => done(new Error(`no ${prefix} within 15 s`)), 15_000);
    const onData = (d: Buffer): void => {
      buf += String(d);
      const line = buf.split('\n').find((l) => l.startsWith(prefix));
      if (line !== undefined) done(undefined, line);
    };
    const onExit = (): void => done(new Error(`process ended before printing ${prefix}`));
    function done(err?: Error, line?: string): void {
      clearTimeout(guard);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line!);
    }
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}
