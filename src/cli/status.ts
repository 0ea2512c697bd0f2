import { readFileSync } from 'node:fs';
import { ConfigErrors, formatConfigError } from '../config/error.js';
import { parseConntrackdConfig } from '../config/conntrackd/index.js';
import { ControlClientError, controlRequest } from '../control/client.js';
import { KS_CTL } from '../control/codes.js';
import { formatStatus, type StatusReport } from '../control/status.js';

const USAGE = `Usage: keepstate status [-C conntrackd.conf] [--json]

Shows a running keepstated's failover instances (role, priority configured and effective and why,
master seen, every peer heard on the VRID, adverts, split brain, last transitions with their
takeover steps) and its sync engine (is the replicated state complete — else why, since when and
how long the priority stays demoted — replication lag, queues and caches). It asks the control socket of the configuration's UNIX { Path }.
  -C FILE   the daemon's conntrackd.conf (default /etc/conntrackd/conntrackd.conf)
  --json    print the daemon's reply as JSON
`;

/** statusMain is `keepstate status`; returns the exit status (0, 1 no daemon or bad config, 2 usage). */
export async function statusMain(argv: readonly string[], out = (s: string) => void process.stdout.write(s), err = (s: string) => void process.stderr.write(s)): Promise<number> {
  let config = '/etc/conntrackd/conntrackd.conf';
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '-C' && argv[i + 1] !== undefined) config = argv[++i]!;
    else if (a === '-h' || a === '--help') {
      out(USAGE);
      return 0;
    } else {
      err(`keepstate status: unexpected argument '${a}'\n${USAGE}`);
      return 2;
    }
  }
  let path: string | undefined;
  try {
    path = parseConntrackdConfig(readFileSync(config, 'utf8'), config).config.general.unixPath;
  } catch (e) {
    err(`keepstate status: ${e instanceof ConfigErrors ? e.errors.map(formatConfigError).join('\n') : e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  if (path === undefined) {
    err(`keepstate status: ${config} has no UNIX { Path }: the daemon has no control socket\n`);
    return 1;
  }
  let reply: Buffer;
  try {
    reply = await controlRequest(path, KS_CTL.STATUS, { json: true, timeoutMs: 10_000 });
  } catch (e) {
    if (e instanceof ControlClientError) {
      err(`keepstate status: ${path}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  if (reply.length === 0) {
    err(`keepstate status: no reply from ${path} (is it conntrackd, or a keepstated without status?)\n`);
    return 1;
  }
  if (json) {
    out(reply.toString('utf8'));
    return 0;
  }
  const report = JSON.parse(reply.toString('utf8')) as StatusReport | { error?: unknown };
  if ('error' in report) {
    err(`keepstate status: the daemon says: ${JSON.stringify(report.error)}\n`);
    return 1;
  }
  out(formatStatus(report as StatusReport));
  return 0;
}
