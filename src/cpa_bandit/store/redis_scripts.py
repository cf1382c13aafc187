"""The Lua scripts of the Redis store: each one is a whole domain operation on one offer's slot.

Every key a script touches carries the offer's hash tag (``{o<offer_id>}``), so each script
runs on one Redis Cluster node, atomically. Counters are the offer hash's fields: the pooled
ones by column name, a source's as ``column@source`` (source ids cannot contain ``@``);
``reward_sq`` (a float) sums the squared rewards of the offer's clicks. An evidence restart
keeps ``since`` and the counters it found as ``b:<field>`` baselines, in the same hash.
A click's record in its offer's slot holds its outcome totals (the same ``ClickTotals`` as
the other stores) and its conversions as ``t:<transaction id>`` fields; counters move by
the change of the totals, as the SQLite trigger and ``conversions.counter_delta`` do.

Integers cross into Lua as strings and are formatted back with ``%d``: Lua 5.1 numbers
print large values in exponent form, which ``HINCRBY`` refuses.
"""

from __future__ import annotations

_COMMON = """
local function bump(offer, src, col, n)
  if n ~= 0 then
    local by = string.format('%d', n)
    redis.call('HINCRBY', offer, col, by)
    if src ~= '' then redis.call('HINCRBY', offer, col .. '@' .. src, by) end
  end
end

-- The hourly counters of the click's hour, in a hash per day that expires on its own.
local function bump_hour(hours, at, col, n)
  if n ~= 0 then
    local hour = string.format('%d', math.floor(tonumber(at) / 3600) * 3600)
    redis.call('HINCRBY', hours, col .. ':' .. hour, string.format('%d', n))
    redis.call('EXPIRE', hours, HOURS_TTL)
  end
end

-- The click's record in its offer's slot, counted once. A decision whose click index was
-- written but whose counts were not (a crash between the two) is completed here by the
-- next operation on the click.
local function ensure(offer, click, pending, hours, cid, src, at, ttl)
  if redis.call('EXISTS', click) == 1 then return 0 end
  redis.call('HSET', click, 'src', src, 'at', at, 'conv', 0, 'pconv', 0, 'preward', 0, 'exp', 0, 'ver', 0, 'n', 0)
  redis.call('EXPIRE', click, ttl)
  redis.call('ZADD', pending, at, cid)
  bump(offer, src, 'clicks', 1)
  bump_hour(hours, at, 'c', 1)
  return 1
end

-- A reward in micros ('' or nil: none) squared in currency units: a float, as squared
-- micros would overflow integers.
local function squared(micros)
  local units = (tonumber(micros) or 0) / 1e6
  return units * units
end

-- Set the click's totals; the offer's counters move by the change. The hour's 's' (outcome
-- known) moves as resolved + expired do: a click resolved after it expired was known already.
local function settle(offer, click, pending, hours, cid, src, at, reward, conv, pconv, preward)
  local old = redis.call('HMGET', click, 'reward', 'conv', 'pconv', 'preward', 'exp')
  local known = 0
  if not old[1] and reward ~= '' then
    bump(offer, src, 'resolved', 1)
    if old[5] == '1' then bump(offer, src, 'expired', -1) else known = 1 end
    redis.call('ZREM', pending, cid)
  end
  local dconv = tonumber(conv) - tonumber(old[2])
  local dreward = tonumber(reward ~= '' and reward or '0') - tonumber(old[1] or '0')
  bump(offer, src, 'conversions', dconv)
  bump(offer, src, 'reward_micros', dreward)
  bump(offer, src, 'pending_conversions', tonumber(pconv) - tonumber(old[3]))
  bump(offer, src, 'pending_reward_micros', tonumber(preward) - tonumber(old[4]))
  local dsquared = squared(reward) - squared(old[1])
  if dsquared ~= 0 then redis.call('HINCRBYFLOAT', offer, 'reward_sq', string.format('%.17g', dsquared)) end
  if redis.call('EXISTS', hours) == 1 then  -- an hour past retention is not brought back
    bump_hour(hours, at, 's', known)
    bump_hour(hours, at, 'v', dconv)
    bump_hour(hours, at, 'r', dreward)
  end
  if reward ~= '' then redis.call('HSET', click, 'reward', reward) end
  redis.call('HSET', click, 'conv', conv, 'pconv', pconv, 'preward', preward)
  redis.call('HINCRBY', click, 'ver', 1)
end
"""

HOURS_KEPT_S = 35 * 86_400
"""How long a day of hourly counters stays after its last click (the dashboard shows days)."""

_COMMON = _COMMON.replace("HOURS_TTL", str(HOURS_KEPT_S))

RECORD = (
    _COMMON
    + """
-- KEYS: offer, click, pending, hours, log; ARGV: click id, source, decided at, ttl,
--       decision-log entry ('' = not logged)
-- The log is a stream per offer whose ids are the decision times in ms (never below the
-- stream's last id, so that replicas with slightly different clocks can all append).
local created = ensure(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if created == 1 and ARGV[5] ~= '' then
  local ms = math.floor(tonumber(ARGV[3]) * 1000)
  local top = redis.call('XREVRANGE', KEYS[5], '+', '-', 'COUNT', 1)
  if #top > 0 then ms = math.max(ms, tonumber(string.match(top[1][1], '^%d+'))) end
  redis.call('XADD', KEYS[5], string.format('%d', ms) .. '-*', 'd', ARGV[5])
end
return created
"""
)

RESOLVE = (
    _COMMON
    + """
-- KEYS: offer, click, pending, hours; ARGV: click id, source, decided at, ttl, reward
-- returns {1} applied, {0, stored reward} already resolved, {-1} postbacks decide this click
ensure(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
local stored = redis.call('HGET', KEYS[2], 'reward')
if stored then return {0, stored} end
if redis.call('HGET', KEYS[2], 'n') ~= '0' then return {-1} end
settle(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[5], ARGV[5] ~= '0' and '1' or '0', '0', '0')
return {1}
"""
)

POSTBACK = (
    _COMMON
    + """
-- KEYS: offer, click, pending, hours
-- ARGV: click id, source, decided at, ttl, expected version, reward ('' = unresolved),
--       conversions, pending conversions, pending reward,
--       number of conversion rows, then (transaction id, row) pairs,
--       number of cap periods, then (period, cap or '', ends at) triples
-- returns 1 applied, 0 the click changed since it was read (the caller retries)
ensure(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if redis.call('HGET', KEYS[2], 'ver') ~= ARGV[5] then return 0 end
local i = 10
local rows = tonumber(ARGV[i])
for r = 1, rows do
  local field = 't:' .. ARGV[i + 2 * r - 1]
  if redis.call('HSETNX', KEYS[2], field, ARGV[i + 2 * r]) == 1 then
    redis.call('HINCRBY', KEYS[2], 'n', 1)
  else
    redis.call('HSET', KEYS[2], field, ARGV[i + 2 * r])
  end
end
settle(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
i = i + 2 * rows + 1
local until_ = tonumber(redis.call('HGET', KEYS[1], 'capped_until') or '0')
local capped = until_
for p = 0, tonumber(ARGV[i]) - 1 do
  local used = redis.call('HINCRBY', KEYS[1], 'cap:' .. ARGV[i + 3 * p + 1], 1)
  local cap = ARGV[i + 3 * p + 2]
  if cap ~= '' and used >= tonumber(cap) then capped = math.max(capped, tonumber(ARGV[i + 3 * p + 3])) end
end
if capped > until_ then redis.call('HSET', KEYS[1], 'capped_until', string.format('%d', capped)) end
return 1
"""
)

EXPIRE = (
    _COMMON
    + """
-- KEYS: offer, pending; ARGV: decided before, limit, click key prefix, hours key prefix
-- returns {pending clicks looked at, clicks expired}
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local expired = 0
for _, cid in ipairs(ids) do
  local click = ARGV[3] .. cid
  local state = redis.call('HMGET', click, 'reward', 'exp', 'src', 'at')
  if state[2] == '0' and not state[1] then
    redis.call('HSET', click, 'exp', 1)
    bump(KEYS[1], state[3], 'expired', 1)
    local hours = ARGV[4] .. string.format('%d', math.floor(tonumber(state[4]) / 86400))
    if redis.call('EXISTS', hours) == 1 then bump_hour(hours, state[4], 's', 1) end
    expired = expired + 1
  end
  redis.call('ZREM', KEYS[2], cid)
end
return {#ids, expired}
"""
)

RESTART = """
-- KEYS: offer; ARGV: restart time, expected evidence start, then the counter columns
-- returns 1 restarted, 0 the offer's evidence no longer starts at the expected time
-- Counter fields are never deleted (but by a reset, with the whole hash), so every field
-- with a baseline from an earlier restart still exists and gets its new one here.
if tonumber(redis.call('HGET', KEYS[1], 'since') or '0') ~= tonumber(ARGV[2]) then return 0 end
local counted = {reward_sq = true}
for i = 3, #ARGV do counted[ARGV[i]] = true end
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do  -- one HSET a field: an offer may have more sources than unpack takes
  if counted[string.match(fields[i], '^([%w_]+)@') or fields[i]] then
    redis.call('HSET', KEYS[1], 'b:' .. fields[i], fields[i + 1])
  end
end
redis.call('HSET', KEYS[1], 'since', ARGV[1])
return 1
"""

PUT_OFFER = """
-- KEYS: offer; ARGV: registry JSON, declared payout (-1 = none), status (its index in
--       domain.STATUSES: 0 active, 1 paused, 2 archived), number of periods, then (period,
--       cap or '', ends at) triples, then optionally the registry JSON that the entry must
--       still hold (a patch's compare-and-set: nothing is written if it changed since read)
-- returns the offer's capped_until, from the conversions already counted this day and month;
-- nil when the entry was not the one expected
-- The status goes in the field 'paused', where decisions read it: a replica older than
-- archiving reads any non-zero value there as paused, so it never serves an archived offer.
local expected = ARGV[5 + 3 * tonumber(ARGV[4])]
if expected and redis.call('HGET', KEYS[1], 'reg') ~= expected then return false end
local capped = 0
for p = 0, tonumber(ARGV[4]) - 1 do
  local cap = ARGV[6 + 3 * p]
  local used = tonumber(redis.call('HGET', KEYS[1], 'cap:' .. ARGV[5 + 3 * p]) or '0')
  if cap ~= '' and used >= tonumber(cap) then capped = math.max(capped, tonumber(ARGV[7 + 3 * p])) end
end
redis.call('HSET', KEYS[1], 'reg', ARGV[1], 'payout', ARGV[2], 'paused', ARGV[3],
           'capped_until', string.format('%d', capped))
return string.format('%d', capped)
"""
