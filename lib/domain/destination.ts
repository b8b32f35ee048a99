import { BlockList, isIP } from 'node:net';

/**
 * Ranges no SFTP server may be in, wherever sluice runs: "this network" (0.0.0.0 reaches the local
 * host on Linux), link-local (169.254.169.254 is the cloud's instance metadata service), multicast,
 * reserved, and their IPv6 counterparts.
 */
export const ALWAYS_DENIED_CIDRS = ['0.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4', '::/128', 'fe80::/10', 'ff00::/8'];
/**
 * The cloud's instance metadata service (AWS: 169.254.169.254 and fd00:ec2::254), refused whatever
 * SFTP_DENY_CIDRS says: its credentials are the functions' own.
 */
export const METADATA_SERVICE_CIDRS = ['169.254.169.254/32', 'fd00:ec2::254/128'];
/** Loopback, denied too on deployed stages; the local stack allows it so partners can be simulated. */
export const LOOPBACK_CIDRS = ['127.0.0.0/8', '::1/128'];

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `fd00::/8`, or a bare address (a /32 or /128). Returns a reason when it is not one. */
export function parseCidr(text: string): Cidr | string {
  const [address = '', prefixText, ...rest] = text.trim().split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return `"${text.trim()}" is not an address or CIDR range`;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const bits = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: bits, family };
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefix >= 0 && prefix <= bits)) return `"${text.trim()}" has a prefix length outside 0-${bits}`;
  return { address, prefix, family };
}

export type DestinationVerdict = { allowed: true } | { allowed: false; reason: string };

/**
 * Which addresses sluice may open an SFTP connection to: none in a denied range and, when an
 * allow-list is given, only those in it. IPv4-mapped IPv6 addresses (`::ffff:169.254.169.254`) are
 * judged as the IPv4 address they carry.
 */
export class DestinationPolicy {
  private readonly denied = new BlockList();
  private readonly allowed: BlockList | undefined;

  constructor(deny: readonly Cidr[], allow?: readonly Cidr[]) {
    for (const range of [...deny, ...METADATA_SERVICE_CIDRS.map((text) => parseCidr(text) as Cidr)]) this.denied.addSubnet(range.address, range.prefix, range.family);
    if (allow !== undefined) {
      this.allowed = new BlockList();
      for (const range of allow) this.allowed.addSubnet(range.address, range.prefix, range.family);
    }
  }

  /** The verdict on one IP address (not a name: names are resolved, then each address judged). */
  check(address: string): DestinationVerdict {
    const version = isIP(address);
    if (version === 0) return { allowed: false, reason: 'is not an IP address' };
    const family = version === 4 ? 'ipv4' : 'ipv6';
    if (this.denied.check(address, family)) return { allowed: false, reason: 'is in a denied range (SFTP_DENY_CIDRS)' };
    if (this.allowed !== undefined && !this.allowed.check(address, family)) {
      return { allowed: false, reason: 'is outside the allowed ranges (SFTP_ALLOW_CIDRS)' };
    }
    return { allowed: true };
  }

  /** For an address literal, the reason it is refused; undefined for names (judged at connect time) and allowed addresses. */
  literalRefusal(host: string): string | undefined {
    if (isIP(host) === 0) return undefined;
    const verdict = this.check(host);
    return verdict.allowed ? undefined : `${host} ${verdict.reason}`;
  }
}

/** Allows every address but the metadata service: for code paths (tests, tools) that connect where they are told. */
export const ANY_DESTINATION = new DestinationPolicy([]);
