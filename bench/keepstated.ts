// Bench worker: keepstated's daemon from the tree this benchmark was compiled with
// (bin/keepstated.js always runs dist/). Usage, as keepstated: node keepstated.js -C conntrackd.conf
import { main } from '../src/daemon/main.js';

process.exit(await main(process.argv.slice(2)));
