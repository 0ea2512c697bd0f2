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
 *            entries are there already) — the VIPs wait for this; then, once the VIPs are up and
 *            out of the takeover's path, what the script does next: empty the caches (`-f`), read
 *            the kernel table into the internal cache (`-R`) and send it to the backups (`-B`);
 *            a peer's RESYNC meanwhile is answered by that `-B` (Replicator.holdResyncAnswers);
 *   backup   `-t` (flush the kernel table after PurgeTimeout: the new master owns the entries)
 *            and `-n` (ask the new master for its table; not after a mastership that never had
 *            its VIPs up: the caches are as they were);
 *   fault    `-t`.
 * With DisableExternalCache the kernel holds the replica, so there is no `-t`, and once master
 * the injector keeps the entries this kernel has (Injector.keepExisting).
 *
 * The node's state is master while any instance is: a second instance (a sync group's WAN
 * router after its LAN one) shares the first one's commit, and leaving master does the state work
 * only once the last instance has left.
 */
export function takeoverState(
  node: SyncNode,
  purge: KernelPurge,
  log: Logger,
): StatePort & { readonly master: () => boolean; readonly masterSinceMs: () => number | undefined; readonly askMaster: () => boolean } {
  const masters = new Set<string>();
  let preparing: Promise<void> | undefined;
  // The instances VRRP has in MASTER now, and since when one has been (the election's view:
  // `masters` follows the state work, which runs behind it).
  const elected = new Set<string>();
  let electedSince: number | undefined;
  // Whether this mastership has had its VIPs up (carried traffic): only then is this node's
  // table the reference afterwards — a mastership lost before its VIPs (a moment of split brain, a
  // link going down port by port) changed nothing the master does not have.
  let served = false;
  // The master each instance hears while BACKUP (StatePort.masterSeen).
  const heard = new Map<string, string>();
  /**
   * askMaster: this node's table is stale (its mastership ended): ask the master for its table —
   * now if one is heard, else once one is (a backup's answer is not the master's table: the old
   * master, its ports going down one by one, asked the still-backup peer and was told it was
   * complete).
   */
  const askMaster = (): boolean => {
    // A request waiting for a master, or one the peer has acknowledged, serves: a second would
    // make the master send its whole table twice. One never acknowledged (lost while the links
    // were down) is made again.
    const r = node.tableRequest();
    if (r === 'waiting-for-master' || r === 'acknowledged') return false;
    if (heard.size > 0) node.resyncFromPeer();
    else node.resyncOnceMasterKnown();
    return true;
  };
  return {
    master: () => masters.size > 0,
    masterSinceMs: () => electedSince,
    askMaster,
    masterSeen(instance: string, address: string | undefined): void {
      if (address === undefined) heard.delete(instance);
      else {
        heard.set(instance, address);
        node.masterKnown();
      }
    },
    role(instance: string, role: VrrpRole): void {
      if (role === 'master') elected.add(instance);
      else elected.delete(instance);
      if (elected.size === 0) electedSince = undefined;
      else electedSince ??= Date.now();
    },
    prepare(instance: string, reason: TransitionReason): Promise<void> {
      const first = masters.size === 0;
      masters.add(instance);
      if (!first) return preparing ?? Promise.resolve();
      purge.cancel(); // a scheduled `-t` flush from an earlier demotion must not empty our table now
      // Until afterTakeover has rebuilt the internal cache and sent it, a peer's RESYNC waits.
      node.holdResyncAnswers();
      const t0 = Date.now();
      preparing = (async () => {
        if (node.injector === undefined) {
          log.log('notice', `takeover (${instance}: ${reason}): committing the external cache`);
          const c = await node.commit('all', { readBack: false });
          // A master we preempt is alive and forwarding until our claim (failover/router.ts): what it
          // sent while we committed goes in too, in a second, short pass (what changes after it, in
          // the moment before it hears us, is all that can still be missed).
          const late = await node.commit('all', { since: t0 });
          log.log('notice', `takeover: ${c.committed} entries in the kernel after ${Date.now() - t0} ms (${late.committed} of them again, received meanwhile)`);
        } else {
          // DisableExternalCache: the entries are in the kernel once the injector has written
          // what it had received (a batch may be in flight; what arrives later follows it).
          await node.injector.written();
          // From the claim on, this kernel is the reference: what a peer still sends (its resend
          // queue, its table) must not delete and recreate an entry live traffic is using.
          if (masters.size > 0) node.injector.keepExisting = true;
          log.log('notice', `takeover (${instance}: ${reason}): replicated entries are in the kernel (injector caught up after ${Date.now() - t0} ms)`);
        }
      })();
      return preparing;
    },
    served(): void {
      if (served || masters.size === 0) return;
      served = true;
      void (preparing ?? Promise.resolve()).then(() => afterTakeover(node, log));
    },
    async release(instance: string, to: VrrpRole, from: VrrpRole): Promise<void> {
      const wasMaster = masters.delete(instance);
      if (masters.size > 0) return;
      const carried = served;
      served = false;
      if (wasMaster) preparing = undefined;
      // A mastership that ends before afterTakeover answers a waiting RESYNC with what it has.
      node.releaseResyncAnswers(false);
      if (node.injector !== undefined) node.injector.keepExisting = false;
      // DisableExternalCache: the kernel is this standby's copy of the master's table — no `-t`
      // flush (it would wipe the replica PurgeTimeout later); the master's answer to `-n` replaces
      // what we hold, and entries it no longer has expire on their own timeouts.
      if (node.injector === undefined && (to === 'fault' || (to === 'backup' && from !== 'initialize'))) purge.schedule();
      // Into BACKUP from MASTER or FAULT: what this node holds is stale (it was master, or cut
      // off); ask the master for its table — the sync-aware election keeps us from preempting
      // until it is in, and a later takeover's commit replaces the stale kernel entries. (From
      // Initialize the start-up request is already out.)
      if (to === 'backup' && from !== 'initialize' && !(wasMaster && !carried) && askMaster()) {
        log.log('notice', `${instance}: ${from} → backup: asking the master for its table${heard.size > 0 ? '' : ' (once one is heard)'}`);
      }
    },
  };
}

/**
 * afterTakeover is primary-backup.sh's `-f`, `-R`, `-B` once the new master's state is in the
 * kernel. The external cache is dropped at once (its entries are in the kernel): a notify script
 * that still runs primary-backup.sh against this daemon then commits nothing a second time (a
 * second commit would delete and recreate every entry under live traffic). The commit reads the
 * kernel table back into the internal cache itself (SyncNode's resyncAfterCommit; a second dump
 * beside it would fail with EBUSY); once that is done the table goes to the backups.
 */
async function afterTakeover(node: SyncNode, log: Logger): Promise<void> {
  node.flushCaches('external');
  if (node.injector === undefined) await node.lastResync;
  else {
    // DisableExternalCache: the injected entries never reached the internal cache (their events
    // are ours); read the kernel table (`-R`), or the new master would not replicate them back.
    try {
      await node.resyncWithKernel();
    } catch (e) {
      log.log('error', `takeover: reading the kernel table failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  node.bulk();
  node.releaseResyncAnswers(true);
  log.log('notice', `takeover: internal cache holds the kernel table (${node.replicator.internal.liveSize} entries), bulk sent`);
}
