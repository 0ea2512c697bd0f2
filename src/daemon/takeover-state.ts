import type { StatePort } from '../failover/manager.js';
import type { TransitionReason, VrrpRole } from '../vrrp/fsm.js';
import type { Logger } from './log.js';
import type { KernelPurge } from './purge.js';
import type { SyncNode } from './sync-node.js';

/**
 * takeoverState is the sync engine's part of a VRRP transition — what keepalived makes
 * conntrack-tools' primary-backup.sh do, run in the takeover's order instead of after it:
 *
 *   master   commit the external cache into the kernel (nothing with DisableExternalCache: the
 *            entries are there already) — the VIPs wait for this; then, out of the takeover's
 *            path, what the script does next: empty the caches (`-f`), read the kernel table into
 *            the internal cache (`-R`) and send it to the backups (`-B`);
 *   backup   `-t` (flush the kernel table after PurgeTimeout: the new master owns the entries)
 *            and `-n` (ask the new master for its table);
 *   fault    `-t`.
 *
 * The node's state is master while any instance is: a second instance (a sync group's WAN
 * router after its LAN one) shares the first one's commit, and leaving master does the state work
 * only once the last instance has left.
 */
export function takeoverState(node: SyncNode, purge: KernelPurge, log: Logger): StatePort & { readonly master: () => boolean } {
  const masters = new Set<string>();
  let preparing: Promise<void> | undefined;
  return {
    master: () => masters.size > 0,
    prepare(instance: string, reason: TransitionReason): Promise<void> {
      const first = masters.size === 0;
      masters.add(instance);
      if (!first) return preparing ?? Promise.resolve();
      purge.cancel(); // a scheduled `-t` flush from an earlier demotion must not empty our table now
      const t0 = Date.now();
      preparing = (async () => {
        if (node.injector === undefined) {
          log.log('notice', `takeover (${instance}: ${reason}): committing the external cache`);
          const c = await node.commit();
          log.log('notice', `takeover: ${c.committed} entries in the kernel after ${Date.now() - t0} ms`);
        } else {
          log.log('notice', `takeover (${instance}: ${reason}): replicated entries are in the kernel already`);
        }
      })();
      void preparing.then(() => afterTakeover(node, log));
      return preparing;
    },
    async release(instance: string, to: VrrpRole): Promise<void> {
      masters.delete(instance);
      if (masters.size > 0) return;
      preparing = undefined;
      if (to === 'backup' || to === 'fault') purge.schedule();
      if (to === 'backup') node.requestResync();
    },
  };
}

/** afterTakeover is primary-backup.sh's `-f`, `-R`, `-B` once the new master's state is in the kernel. */
async function afterTakeover(node: SyncNode, log: Logger): Promise<void> {
  try {
    node.flushCaches('both');
    const n = await node.resyncWithKernel();
    node.bulk();
    log.log('notice', `takeover: internal cache resynced with the kernel (${n} entries), bulk sent`);
  } catch (e) {
    log.log('error', `takeover: resync after the commit failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
