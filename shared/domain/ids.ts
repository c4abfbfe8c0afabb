// Server-minted, time-sortable 64-bit ids that embed a logical shard, after Instagram's scheme:
//   41 bits milliseconds since 2025-01-01 (good until 2094) | 12 bits logical shard | 11 bits sequence
// written as 13 Crockford base-32 characters, so string order is time order. Any service can route
// a request from the id alone. The sequence starts at a random value per process; two processes
// minting for the same shard in the same millisecond could collide, so every write of a new id is
// conditional (attribute_not_exists) and re-mints on conflict.
import { randomInt } from 'node:crypto';
import { LOGICAL_SHARDS } from './regions.js';

const EPOCH_MS = Date.UTC(2025, 0, 1);
const SHARD_BITS = 12n;
const SEQ_BITS = 11n;
const SEQ_MASK = (1n << SEQ_BITS) - 1n;
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ID_LENGTH = 13;
/** 64 bits in 13 base-32 characters: the first carries only 4 bits (0-F). */
export const ID_PATTERN = /^[0-9A-F][0-9A-HJKMNP-TV-Z]{12}$/;

let lastMs = 0;
let seq = 0n;

function encode(value: bigint): string {
  let out = '';
  for (let i = 0; i < ID_LENGTH; i++) {
    out = ALPHABET[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}

function decode(id: string): bigint {
  let value = 0n;
  for (const ch of id) value = (value << 5n) | BigInt(ALPHABET.indexOf(ch));
  return value;
}

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** Mints an id on `logicalShard` at `nowMs` (defaults to the clock; never goes backwards). */
export function mintId(logicalShard: number, nowMs: number = Date.now()): string {
  if (!Number.isInteger(logicalShard) || logicalShard < 0 || logicalShard >= LOGICAL_SHARDS) {
    throw new RangeError(`logical shard ${logicalShard} out of range`);
  }
  if (nowMs > lastMs) {
    // A new millisecond starts at a random sequence in the lower half: two processes minting for
    // the same shard rarely collide, and 1,024 ids fit before the millisecond is used up.
    lastMs = nowMs;
    seq = BigInt(randomInt(0, 1 << 10));
  } else if (++seq > SEQ_MASK) {
    // More than the sequence holds in one millisecond (or the clock stepped back): borrow the
    // next millisecond, so ids stay unique and increasing.
    lastMs++;
    seq = 0n;
  }
  return idAt(lastMs, logicalShard, Number(seq));
}

export function logicalShardOf(id: string): number {
  if (!isId(id)) throw new RangeError(`not an id: ${id}`);
  return Number((decode(id) >> SEQ_BITS) & ((1n << SHARD_BITS) - 1n));
}

export function timestampOf(id: string): number {
  if (!isId(id)) throw new RangeError(`not an id: ${id}`);
  return Number(decode(id) >> (SHARD_BITS + SEQ_BITS)) + EPOCH_MS;
}

/** The smallest id minted at `ms` on any shard: a bound for time-range queries. */
export function minIdAt(ms: number): string {
  return idAt(ms, 0, 0);
}

/** A deterministic id: the one for (ms, logical shard, sequence). Re-deriving it names the same
 *  row, which makes writes of derived records (digests) idempotent. */
export function idAt(ms: number, logicalShard: number, sequence = 0): string {
  return encode(
    (BigInt(ms - EPOCH_MS) << (SHARD_BITS + SEQ_BITS)) | (BigInt(logicalShard) << SEQ_BITS) | (BigInt(sequence) & SEQ_MASK),
  );
}
