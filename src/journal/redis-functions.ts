/**
 * The Redis Function library of the Redis journal (Redis 7+, MemoryDB, Valkey). Functions, unlike
 * EVAL scripts, are part of the dataset: they are persisted in the RDB/AOF and replicated, so a
 * promoted replica or a restarted server runs the same checks. Every function touches only keys of
 * one hash tag (`{namespace}`), so it also runs on a cluster shard.
 *
 * Keys (src/journal/redis-log.ts builds them):
 *   {ns}:log    the command log: a stream, one entry per group-commit batch, id `<firstSeq>-<lastSeq>`,
 *               fields r (the batch's records, journal record format), e (writer's epoch), h (state
 *               hash after lastSeq, when the batch carries a checkpoint)
 *   {ns}:meta   hash: epoch (the fencing token), seq, time, chain (where the log ends), leader, address
 *   {ns}:lease  the leader lease: the leader's node id, with a TTL (PX)
 *
 * The fencing argument: `append` compares the writer's epoch with meta.epoch in the same atomic step
 * that adds the entry, and `acquire` increments meta.epoch in the same step that takes the lease. A
 * new leader therefore fences the old one before it reads the log's end, and nothing the old leader
 * sends afterwards can land in the log: the log it reads to the end is final for the old epoch.
 */

/** Bumped when a function's contract changes; both versions can be loaded side by side during an upgrade. */
export const functionsVersion = 1;

export const fn = {
  append: `bourse_append_v${functionsVersion}`,
  acquire: `bourse_acquire_v${functionsVersion}`,
  renew: `bourse_renew_v${functionsVersion}`,
  release: `bourse_release_v${functionsVersion}`,
  claim: `bourse_claim_v${functionsVersion}`,
} as const;

export const functionsLibrary = `#!lua name=bourse_v${functionsVersion}

local function head(meta)
  local m = redis.call('HMGET', meta, 'epoch', 'seq', 'time', 'chain')
  return { tonumber(m[1] or '0'), tonumber(m[2] or '0'), tonumber(m[3] or '0'), tonumber(m[4] or '0') }
end

-- KEYS log, meta. ARGV epoch, firstSeq, lastSeq, lastTime, chain, records, checkpoint ('' for none).
-- Appends one batch if the writer still holds the current epoch and the batch continues the log.
-- A batch already in the log with the same bytes (a retry whose reply was lost) is accepted again.
local function append(keys, args)
  local epoch = redis.call('HGET', keys[2], 'epoch')
  if epoch ~= args[1] then
    return redis.error_reply('FENCED writer epoch ' .. args[1] .. ' is not the current epoch ' .. tostring(epoch))
  end
  local first = tonumber(args[2])
  local last = tonumber(args[3])
  local seq = tonumber(redis.call('HGET', keys[2], 'seq') or '0')
  local id = args[2] .. '-' .. args[3]
  if last <= seq then
    local entry = redis.call('XRANGE', keys[1], id, id)
    if #entry == 1 and entry[1][2][2] == args[6] then
      -- A write on purpose: the WAIT that follows on this (maybe new) connection must cover the entry.
      redis.call('HINCRBY', keys[2], 'retried', 1)
      return seq
    end
    return redis.error_reply('CONFLICT batch ' .. id .. ' is not the one in the log (the log ends at seq ' .. seq .. ')')
  end
  if first ~= seq + 1 then
    return redis.error_reply('GAP batch starts at seq ' .. first .. ' but the log ends at seq ' .. seq)
  end
  if args[7] == '' then
    redis.call('XADD', keys[1], id, 'r', args[6], 'e', args[1])
  else
    redis.call('XADD', keys[1], id, 'r', args[6], 'e', args[1], 'h', args[7])
  end
  redis.call('HSET', keys[2], 'seq', args[3], 'time', args[4], 'chain', args[5])
  return last
end

-- KEYS lease, meta. ARGV nodeId, ttlMs, address, deadHolder ('' for none).
-- Takes a free lease and, in the same step, moves to a new epoch: the previous leader is fenced.
-- deadHolder: a holder the caller saw die (its connection closed) may be overridden before its
-- lease runs out; any other holder keeps it.
-- Returns { epoch, seq, time, chain } of the log at that moment: final for every older epoch.
local function acquire(keys, args)
  local holder = redis.call('GET', keys[1])
  if holder and holder ~= args[1] and (args[4] == nil or args[4] == '' or holder ~= args[4]) then
    return redis.error_reply('HELD the lease is held by ' .. holder)
  end
  local epoch = redis.call('HINCRBY', keys[2], 'epoch', 1)
  redis.call('SET', keys[1], args[1], 'PX', args[2])
  redis.call('HSET', keys[2], 'leader', args[1], 'address', args[3])
  local h = head(keys[2])
  return { epoch, h[2], h[3], h[4] }
end

-- KEYS lease, meta. ARGV nodeId, epoch, ttlMs. Extends the lease of the current epoch's leader.
local function renew(keys, args)
  local epoch = redis.call('HGET', keys[2], 'epoch')
  if epoch ~= args[2] then
    return redis.error_reply('FENCED epoch ' .. args[2] .. ' is not the current epoch ' .. tostring(epoch))
  end
  local holder = redis.call('GET', keys[1])
  if holder and holder ~= args[1] then
    return redis.error_reply('FENCED the lease is held by ' .. holder)
  end
  redis.call('SET', keys[1], args[1], 'PX', args[3])
  return 1
end

-- KEYS lease, meta. ARGV nodeId, epoch. A planned handover: frees the lease if this leader holds it.
local function release(keys, args)
  if redis.call('HGET', keys[2], 'epoch') ~= args[2] then return 0 end
  if redis.call('GET', keys[1]) ~= args[1] then return 0 end
  redis.call('DEL', keys[1])
  redis.call('HSET', keys[2], 'address', '')
  return 1
end

-- KEYS meta. No lease: a writer that runs alone takes the next epoch (fencing any earlier writer).
local function claim(keys, args)
  local epoch = redis.call('HINCRBY', keys[1], 'epoch', 1)
  local h = head(keys[1])
  return { epoch, h[2], h[3], h[4] }
end

redis.register_function('${fn.append}', append)
redis.register_function('${fn.acquire}', acquire)
redis.register_function('${fn.renew}', renew)
redis.register_function('${fn.release}', release)
redis.register_function('${fn.claim}', claim)
`;
