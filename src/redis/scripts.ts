import { createHash } from 'node:crypto';
import type { StoreOp, StoreOpResult } from '../core/store.js';

/**
 * The conditional writes of `CacheStore.apply` as ONE Lua script per batch (per hash slot on a
 * cluster), so that each op is atomic for its key and the announcement is published atomically
 * with the writes: no process can see a write whose announcement will not follow.
 *
 * KEYS: one key per op. ARGV[1]: the announcement channel ('' for none); ARGV[2]: the message;
 * then six arguments per op: type (c claim, f fill, s swap, w set), expected ('' = absent),
 * value, ttl (ms, '0' = none), otherwise value, otherwise ttl.
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
    if redis.call('GET', key) == ARGV[b + 2] then put(key, ARGV[b + 3], ARGV[b + 4]); out[i] = 1 else out[i] = 0 end
  elseif op == 's' then
    local current = redis.call('GET', key)
    local expected = ARGV[b + 2]
    if (current == false and expected == '') or current == expected then
      put(key, ARGV[b + 3], ARGV[b + 4]); out[i] = 1
    else
      put(key, ARGV[b + 5], ARGV[b + 6]); out[i] = 0
    end
  else
    put(key, ARGV[b + 3], ARGV[b + 4]); out[i] = 1
  end
end
if ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return out
`;

/** SHA-1 of {@link APPLY_SCRIPT}, for EVALSHA. */
export const APPLY_SHA = createHash('sha1').update(APPLY_SCRIPT).digest('hex');

const TYPE = { claim: 'c', fill: 'f', swap: 's', set: 'w' } as const;

/** The script's ARGV for `ops` (keys are passed separately, already namespaced). */
export function applyArguments(ops: readonly StoreOp[], channel: string, message: string): string[] {
  const args = [channel, message];
  for (const op of ops) {
    const ttl = op.ttl === undefined ? '0' : String(Math.max(1, Math.round(op.ttl)));
    if (op.type === 'swap') {
      const otherwiseTtl =
        op.otherwise.ttl === undefined ? '0' : String(Math.max(1, Math.round(op.otherwise.ttl)));
      args.push(TYPE.swap, op.expected ?? '', op.value, ttl, op.otherwise.value, otherwiseTtl);
    } else {
      args.push(TYPE[op.type], op.type === 'fill' ? op.expected : '', op.value, ttl, '', '0');
    }
  }
  return args;
}

/** The script's reply as `apply` results: strings for claims, booleans for the rest. */
export function applyResults(ops: readonly StoreOp[], reply: unknown): StoreOpResult[] {
  const values = reply as (string | number)[];
  return ops.map((op, i) => (op.type === 'claim' ? String(values[i]) : values[i] === 1));
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
