import net from 'node:net';
import ipaddr from 'ipaddr.js';

// Which IP addresses webhook deliveries may reach: public unicast only. Customers choose webhook
// URLs, so anything else (loopback, the private network, cloud metadata at 169.254.169.254, …)
// would let them use our workers to probe or attack infrastructure they cannot otherwise reach.

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

// Spelled out rather than trusting ipaddr.js's range names alone, so a library update that
// renames or narrows a range cannot quietly reopen one the spec forbids.
const FORBIDDEN_IPV4: ReadonlyArray<readonly [string, [IPv4, number]]> = (
  [
    ['unspecified', '0.0.0.0/8'],
    ['private', '10.0.0.0/8'],
    ['carrierGradeNat', '100.64.0.0/10'],
    ['loopback', '127.0.0.0/8'],
    ['linkLocal', '169.254.0.0/16'],
    ['private', '172.16.0.0/12'],
    ['reserved', '192.0.0.0/24'],
    ['documentation', '192.0.2.0/24'],
    ['reserved', '192.88.99.0/24'],
    ['private', '192.168.0.0/16'],
    ['benchmarking', '198.18.0.0/15'],
    ['documentation', '198.51.100.0/24'],
    ['documentation', '203.0.113.0/24'],
    ['multicast', '224.0.0.0/4'],
    ['reserved', '240.0.0.0/4'], // includes 255.255.255.255
  ] as const
).map(([name, cidr]) => [name, ipaddr.IPv4.parseCIDR(cidr)] as const);

// NAT64 well-known prefix: IPv6-only networks with DNS64 reach every IPv4 site through it, so it
// must stay usable for public targets; only the embedded IPv4 decides.
const NAT64_PREFIX = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
// Everything outside global unicast 2000::/3 (e.g. the deprecated IPv4-compatible ::a.b.c.d,
// which ipaddr.js reports as 'unicast') is refused.
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

function ipv4FromWords(high: number, low: number): IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function classifyIPv4(addr: IPv4): string | null {
  for (const [name, cidr] of FORBIDDEN_IPV4) if (addr.match(cidr)) return name;
  const range = addr.range();
  return range === 'unicast' ? null : range;
}

function classifyIPv6(addr: IPv6): string | null {
  const parts = addr.parts;
  if (addr.isIPv4MappedAddress()) return classifyIPv4(addr.toIPv4Address());
  if (addr.match(NAT64_PREFIX)) return classifyIPv4(ipv4FromWords(parts[6] ?? 0, parts[7] ?? 0));
  const range = addr.range();
  // 6to4 (2002:AABB:CCDD::/48) carries the IPv4 of the site's router in bits 16–47.
  if (range === '6to4') return classifyIPv4(ipv4FromWords(parts[1] ?? 0, parts[2] ?? 0));
  if (range !== 'unicast') return range;
  return addr.match(GLOBAL_UNICAST_V6) ? null : 'reserved';
}

/** Why an address is refused ('loopback', 'private', …), or null when it is public unicast. */
export function classifyAddress(ip: string): string | null {
  // Only canonical literals (what resolvers and the WHATWG URL parser produce) are judged;
  // odd spellings such as "127.1" or "0x7f.0.0.1" are refused rather than interpreted.
  const bare = ip.includes('%') ? ip.slice(0, ip.indexOf('%')) : ip;
  const family = net.isIP(bare);
  if (family === 4) return classifyIPv4(ipaddr.IPv4.parse(bare));
  if (family === 6) return classifyIPv6(ipaddr.IPv6.parse(hexIPv6(bare)));
  return 'invalid';
}

// ipaddr.js reads the deprecated IPv4-compatible form "::a.b.c.d" as if it were the mapped
// "::ffff:a.b.c.d", which would judge ::8.8.8.8 as public. The WHATWG URL serializer rewrites
// any dotted tail into hex words (RFC 5952 style), so ipaddr.js then sees the real bits.
function hexIPv6(ip: string): string {
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

export function isForbiddenAddress(ip: string): boolean {
  return classifyAddress(ip) !== null;
}
