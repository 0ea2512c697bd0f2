import { US_PER_CS, US_PER_S } from './consts.js';

/**
 * VRRP timer formulas (RFC 3768 §6.1, RFC 5798 §6.1, failover-and-peers.md §1.6), in integer
 * microseconds as keepalived computes them (vrrp.h VRRP_TIMER_SKEW_CALC): integer centiseconds would
 * truncate the skew to 0 at small intervals and stop priorities from breaking ties.
 */

/** DEFAULT_DOWN_TIMER_ADVERTS: the RFC's 3 missed adverts (keepalived `down_timer_adverts`, 1..100). */
export const DEFAULT_DOWN_TIMER_ADVERTS = 3;

/**
 * skewTimeUs is Skew_Time for `priority`, microseconds.
 * VRRPv2: (256 − Priority) / 256 seconds, independent of the advert interval.
 * VRRPv3: ((256 − Priority) × Master_Adver_Interval) / 256 with the interval in whole centiseconds,
 * i.e. keepalived's (256 − p) × cs × 625 / 16 µs, truncated.
 */
export function skewTimeUs(version: 2 | 3, priority: number, masterAdverIntUs: number): number {
  const p = 256 - priority;
  if (version === 2) return Math.floor((p * US_PER_S) / 256);
  const cs = Math.floor(masterAdverIntUs / US_PER_CS);
  return Math.floor((p * cs * 625) / 16);
}

/**
 * masterDownIntervalUs is Master_Down_Interval, microseconds:
 * down_timer_adverts (3) × Master_Adver_Interval + Skew_Time. For VRRPv2 Master_Adver_Interval is
 * the configured Advertisement_Interval (all routers of a VR must agree on it).
 */
export function masterDownIntervalUs(version: 2 | 3, priority: number, masterAdverIntUs: number, downTimerAdverts = DEFAULT_DOWN_TIMER_ADVERTS): number {
  return downTimerAdverts * masterAdverIntUs + skewTimeUs(version, priority, masterAdverIntUs);
}
