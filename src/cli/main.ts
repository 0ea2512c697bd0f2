import { KEEPSTATE_VERSION } from './version.js';

/**
 * keepstate's command-line entry: `keepstate <command> [args]`. Each command lives in its own
 * module, imported only when chosen, so start-up loads just what the command needs.
 */

const USAGE = `Usage: keepstate <command> [arguments]

Commands:
  conntrack   the conntrack-tools 1.4.7 \`conntrack\` command (same options and output, plus -o json)
  status      a running keepstated's failover instances and sync state (text or --json)

keepstate ${KEEPSTATE_VERSION}
`;

/** main runs one command and returns its exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'conntrack': {
      const { conntrackMain } = await import('./conntrack/index.js');
      return conntrackMain(rest);
    }
    case 'status': {
      const { statusMain } = await import('./status.js');
      return statusMain(rest);
    }
    case '--version':
    case '-V':
      process.stdout.write(`keepstate ${KEEPSTATE_VERSION}\n`);
      return 0;
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`keepstate: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}
