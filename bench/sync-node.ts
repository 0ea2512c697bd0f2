// Bench worker: runs one keepstate sync node from a conntrackd.conf in this process's namespace
// and writes its status (cache sizes, messages sent, CPU time) as JSON to `statusFile` every 50 ms,
// until SIGTERM. Usage: node sync-node.js CONF STATUS_FILE
import { readFileSync, writeFileSync } from 'node:fs';
import { parseConntrackdConfig } from '../src/config/conntrackd/index.js';
import { SyncNode } from '../src/daemon/sync-node.js';

const [confPath, statusFile] = process.argv.slice(2);
if (confPath === undefined || statusFile === undefined) throw new Error('usage: sync-node.js CONF STATUS_FILE');
const { config } = parseConntrackdConfig(readFileSync(confPath, 'utf8'), confPath);
const node = await SyncNode.start(config, { log: () => undefined });
const write = (): void => {
  const cpu = process.cpuUsage();
  writeFileSync(
    statusFile,
    JSON.stringify({
      internal: node.replicator.internal.size,
      external: node.replicator.external.size,
      sent: node.replicator.ftfw.stats.sent,
      hello: node.replicator.ftfw.helloState,
      cpuUs: cpu.user + cpu.system,
      rssKiB: process.resourceUsage().maxRSS,
    }),
  );
};
const timer = setInterval(write, 50);
write();
process.once('SIGTERM', () => {
  clearInterval(timer);
  void node.stop().then(() => process.exit(0));
});
