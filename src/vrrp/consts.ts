/**
 * VRRP protocol constants (RFC 3768 §5, RFC 5798 §5, RFC 9568 §5), spelled as the RFCs and
 * keepalived's vrrp.h spell them so that a grep from either lands here.
 */

/** IPPROTO_VRRP is the IP protocol / IPv6 next header number of VRRP. */
export const IPPROTO_VRRP = 112;

/** VRRP_TYPE_ADVERTISEMENT is the only packet type defined (low nibble of byte 0). */
export const VRRP_TYPE_ADVERTISEMENT = 1;

/** VRRP_IP_TTL: adverts are sent with IP TTL / hop limit 255 and multicast receivers drop anything else. */
export const VRRP_IP_TTL = 255;

/** VRRP_PRIO holds the priorities with a meaning of their own. */
export const VRRP_PRIO = {
  /** STOP: the master is resigning; backups take over after Skew_Time. */
  STOP: 0,
  /** DFL: the default priority of a backup router. */
  DFL: 100,
  /** OWNER: the router owns the virtual addresses. */
  OWNER: 255,
} as const;

/** VRRP_AUTH is the VRRPv2 Auth Type field; RFC 3768 keeps only NONE, keepalived 2.2.7 still sends PASS and AH. */
export const VRRP_AUTH = { NONE: 0, PASS: 1, AH: 2 } as const;

/** VRRP_MCAST_GROUP: destination of multicast adverts (224.0.0.18, ff02::12). */
export const VRRP_MCAST_GROUP = { ipv4: '224.0.0.18', ipv6: 'ff02::12' } as const;

/** VRRP_V2_AUTH_DATA_LEN: the VRRPv2 Authentication Data trailer, 8 bytes after the addresses. */
export const VRRP_V2_AUTH_DATA_LEN = 8;

/** VRRP_HEADER_LEN: version/type, VRID, priority, count, then 2 bytes (v2: auth type + adver int; v3: rsvd + max adver int), then checksum. */
export const VRRP_HEADER_LEN = 8;

/** VRRP_V3_MAX_ADVER_INT_CS: the v3 Max Adver Int field is 12 bits of centiseconds. */
export const VRRP_V3_MAX_ADVER_INT_CS = 0x0fff;

/** US_PER_S / US_PER_CS convert the wire units (v2 seconds, v3 centiseconds) to the state machine's microseconds. */
export const US_PER_S = 1_000_000;
export const US_PER_CS = 10_000;
