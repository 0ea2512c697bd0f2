// keepstated run from this build (the lab's copy of bin/keepstated.js): bin/ always runs dist/,
// while a lab compiled elsewhere (tsc --outDir) must run the daemon it was compiled with.
import { main } from '../src/daemon/main.js';

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (err: unknown) => {
    process.stderr.write(`keepstated: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
