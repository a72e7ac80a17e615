import { createHash } from 'node:crypto';
import type { StoreOp, StoreOpResult } from '../core/store.js';

/**
 * The conditional writes of `CacheStore.apply` as ONE Lua script per batch (per hash slot on a
 * cluster), so that each op is atomic for its key and the announcement is published atomically
 * with the writes: no process can see a change whose announcement will not follow.
 *
 * KEYS: one key per op. ARGV[1]: the announcement channel ('' for none); ARGV[2]: the message;
 * then six arguments per op: type (c claim, f fill, m mark, w set, a ack, n countAcks, l listAcks),
 * expected (fill), token (mark) or member (ack) or min (count/list), value (or marker, score,
 * max), ttl (ms, '0' = none; ack: keepAfter), flag ('1': fill announces / mark writes an absent
 * key), and a fill's refresh token ('' for none; see `StoreOp`). Records start with '#' and a
 * 9-character tag (TAG_LENGTH); a record under refresh carries '@token' and a newline after its
 * tag.

 */
export const APPLY_SCRIPT = `
local out = {}
local function put(key, value, ttl)
  if ttl ~= '0' then redis.call('SET', key, value, 'PX', ttl) else redis.call('SET', key, value) end
end
for i, key in ipairs(KEYS) do
  local b = 2 + (i - 1) * 6
  local op = ARGV[b + 1]
  if op == 'c' then
    local current = redis.call('GET', key)
    if current then out[i] = current else put(key, ARGV[b + 3], ARGV[b + 4]); out[i] = ARGV[b + 3] end
  elseif op == 'f' then
    local current = redis.call('GET', key)
    local token = ARGV[b + 6]
    if current == ARGV[b + 2] or (token ~= '' and current == '~' .. token) then
      put(key, ARGV[b + 3], ARGV[b + 4]); out[i] = 1
    else
      out[i] = 0
      if token ~= '' and current and string.sub(current, 1, 1) == '#' and string.sub(current, 10, 10) == '@' then
        local newline = string.find(current, '\\n', 11, true)
        if newline and string.sub(current, 11, newline - 1) ~= token then
          redis.call('SET', key, '~' .. string.sub(current, 11, newline - 1), 'KEEPTTL')
        end
      end
    end

  elseif op == 'm' then
    local current = redis.call('GET', key)
    local rest = nil
    if current and string.sub(current, 1, 1) == '#' then
      rest = string.sub(current, 10)
      if string.sub(rest, 1, 1) == '@' then
        local newline = string.find(rest, '\\n', 1, true)
        if newline then rest = string.sub(rest, newline + 1) else rest = nil end
      end
    end
    if rest then
      redis.call('SET', key, string.sub(current, 1, 9) .. '@' .. ARGV[b + 2] .. '\\n' .. rest, 'KEEPTTL')
    elseif current or ARGV[b + 5] == '1' then
      put(key, ARGV[b + 3], ARGV[b + 4])
    end
    out[i] = current or ''
  elseif op == 'a' then
    redis.call('ZADD', key, ARGV[b + 3], ARGV[b + 2])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[b + 4])
    out[i] = 1
  elseif op == 'n' then
    out[i] = tostring(redis.call('ZCOUNT', key, ARGV[b + 2], ARGV[b + 3]))
  elseif op == 'l' then
    local found = redis.call('ZRANGEBYSCORE', key, ARGV[b + 2], ARGV[b + 3], 'WITHSCORES')
    local scores = {}
    for j = 2, #found, 2 do scores[#scores + 1] = found[j] end
    out[i] = table.concat(scores, ',')
  else
    put(key, ARGV[b + 3], ARGV[b + 4]); out[i] = 1
  end
end
if ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return out
`;

/** SHA-1 of {@link APPLY_SCRIPT}, for EVALSHA. */
export const APPLY_SHA = createHash('sha1').update(APPLY_SCRIPT).digest('hex');

function ms(ttl: number | undefined): string {
  return ttl === undefined ? '0' : String(Math.max(1, Math.round(ttl)));
}

/** The keys `ops` change and so announce: marks, sets, and fills that ask to be announced. */
export function announcedKeys(ops: readonly StoreOp[]): string[] {
  return ops
    .filter((op) => op.type === 'mark' || op.type === 'set' || (op.type === 'fill' && op.announce))
    .map((op) => op.key);
}

/** The script's ARGV for `ops` (keys are passed separately, already namespaced). */
export function applyArguments(ops: readonly StoreOp[], channel: string, message: string): string[] {
  const args = [channel, message];
  for (const op of ops) {
    switch (op.type) {
      case 'claim':
        args.push('c', '', op.value, ms(op.ttl), '', '');
        break;
      case 'fill':
        args.push('f', op.expected, op.value, ms(op.ttl), op.announce ? '1' : '', op.token ?? '');

        break;
      case 'mark':
        args.push('m', op.token, op.marker, ms(op.ttl), op.ifAbsent ? '1' : '', '');
        break;
      case 'ack':
        args.push('a', op.member, String(op.score), String(op.keepAfter), '', '');
        break;
      case 'countAcks':
      case 'listAcks':
        args.push(op.type === 'countAcks' ? 'n' : 'l', String(op.min), String(op.max), '0', '', '');
        break;
      default:
        args.push('w', '', op.value, ms(op.ttl), '', '');
    }
  }
  return args;
}

/** The script's reply as `apply` results: strings for claims and marks, booleans for the rest. */
export function applyResults(ops: readonly StoreOp[], reply: unknown): StoreOpResult[] {
  const values = reply as (string | number)[];
  return ops.map((op, i) =>
    op.type === 'claim' || op.type === 'mark' || op.type === 'countAcks' || op.type === 'listAcks'
      ? String(values[i])
      : values[i] === 1,
  );
}

/** What runs a script on one Redis node: EVALSHA, then EVAL when the node does not know it. */
export interface ScriptRunner {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Runs {@link APPLY_SCRIPT} on `node`, loading it on NOSCRIPT (a restarted or new node). */
export async function runApply(node: ScriptRunner, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await node.evalSha(APPLY_SHA, { keys, arguments: args });
  } catch (error) {
    if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
    return node.eval(APPLY_SCRIPT, { keys, arguments: args });
  }
}
