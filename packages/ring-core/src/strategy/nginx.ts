import { CRC32_INIT, crc32Final, crc32Update } from '../hash/crc32.js';
import { utf8 } from '../hash/bytes.js';
import type { RingNode } from '../types.js';
import { integerWeight, serverAddress } from './edge.js';
import { checkNodeCount, type PlacementBuilder } from './placement.js';
import { RingPlacement } from './ring.js';

/** nginx gives each server weight x 160 points. */
const POINTS_PER_WEIGHT = 160;
/** nginx's own limit on a server's weight. */
const MAX_WEIGHT = 1_000_000;

/**
 * The running CRC of "host \0 port" that every point of a server continues. nginx splits the address at the last
 * ':' only when digits alone follow it ("[::1]:80" -> "[::1]" + "80"; "backend" -> "backend" + ""), and takes a
 * `unix:` path whole as the host.
 */
function baseCrc(server: string): number {
  let host = server;
  let port = '';
  if (server.length >= 5 && server.slice(0, 5).toLowerCase() === 'unix:') host = server.slice(5);
  else {
    let i = server.length - 1;
    while (i >= 0 && server.charCodeAt(i) >= 0x30 && server.charCodeAt(i) <= 0x39) i--;
    if (i >= 0 && server[i] === ':') {
      host = server.slice(0, i);
      port = server.slice(i + 1);
    }
  }
  return crc32Update(crc32Update(crc32Update(CRC32_INIT, utf8(host)), [0]), utf8(port));
}

/** Appends a server's points: crc32(host \0 port prev), prev being the previous point as 4 little-endian bytes, from 0. */
function serverPoints(node: RingNode, index: number, into: number[]): void {
  const count = integerWeight(node, 'nginx', MAX_WEIGHT) * POINTS_PER_WEIGHT;
  const base = baseCrc(serverAddress(node));
  const prev = new Uint8Array(4);
  for (let j = 0; j < count; j++) {
    const point = crc32Final(crc32Update(base, prev));
    // Packed with the member index so one sort orders by point, then by member (the order the config lists them).
    into.push(point * 65536 + index);
    prev[0] = point & 0xff;
    prev[1] = (point >>> 8) & 0xff;
    prev[2] = (point >>> 16) & 0xff;
    prev[3] = point >>> 24;
  }
}

/**
 * nginx's `hash $key consistent` (ngx_http_upstream_hash_module): sorted points, duplicates dropped keeping the
 * first server listed (the generated config lists members in id order, the order of the ring's indexes), and a
 * key's CRC-32 takes the first point >= it, walking on past down servers: exactly the ring walk, so the lookup is
 * the 'ring' strategy's over nginx's points. The ring's `hash` for this strategy is always crc32.
 */
export const buildNginx: PlacementBuilder = ({ nodes }) => {
  checkNodeCount(nodes);
  const packed: number[] = [];
  nodes.forEach((node, i) => serverPoints(node, i, packed));
  const sorted = Float64Array.from(packed).sort();
  const positions: number[] = [];
  const owners: number[] = [];
  for (const value of sorted) {
    const position = Math.floor(value / 65536);
    if (positions.length > 0 && positions[positions.length - 1] === position) continue;
    positions.push(position);
    owners.push(value - position * 65536);
  }
  const holders = new Set(owners).size;
  return new RingPlacement(Uint32Array.from(positions), Uint16Array.from(owners), holders);
};
