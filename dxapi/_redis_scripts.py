"""The Lua scripts of :class:`dxapi.RedisLimiter`: every change to a shared budget is one of them.

Each reads Redis's own clock (``TIME``, in ms), so the hosts' clocks never matter. Lua numbers
are doubles: ms timestamps (13 digits) are exact.
"""

__all__ = ["ACQUIRE", "PAUSE", "RELEASE"]

# KEYS: held, back, pause, last.  ARGV: limit, window ms, lease ms, spacing ms, want, id prefix,
# first sequence number.  Returns {granted, now ms, wait ms, all in flight (0/1)}.
ACQUIRE = """
local held, back, pause, last = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local limit, window, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local spacing, want, seq = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', held, '-inf', now, 'WITHSCORES')
for i = 1, #dead, 2 do redis.call('ZADD', back, tonumber(dead[i + 1]) + window, dead[i]) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', held, '-inf', now) end
redis.call('ZREMRANGEBYSCORE', back, '-inf', now)
local paused = tonumber(redis.call('GET', pause) or '0')
if paused > now then return {0, now, paused - now, 0} end
local n = math.min(want, limit - redis.call('ZCARD', held) - redis.call('ZCARD', back))
if spacing > 0 and n > 0 then
  local prev = tonumber(redis.call('GET', last) or '0')
  if prev + spacing > now then return {0, now, prev + spacing - now, 0} end
  n = 1
  redis.call('SET', last, now, 'PX', spacing + 1000)
end
if n > 0 then
  for i = 0, n - 1 do redis.call('ZADD', held, now + lease, ARGV[6] .. (seq + i)) end
  redis.call('PEXPIRE', held, lease + window + 1000)
  redis.call('PEXPIRE', back, lease + window + 1000)
  return {n, now, 0, 0}
end
local wait, busy = -1, 1
local first = redis.call('ZRANGE', back, 0, 0, 'WITHSCORES')
if first[2] then wait, busy = tonumber(first[2]) - now, 0 end
local lease1 = redis.call('ZRANGE', held, 0, 0, 'WITHSCORES')
if lease1[2] then
  local w = tonumber(lease1[2]) + window - now
  if wait < 0 or w < wait then wait = w end
end
return {0, now, wait, busy}
"""

# KEYS: held, back.  ARGV: window ms, ttl ms, channel, then (permit id, ms since it ended)
# pairs: the age is a local duration, so the return counts from when the attempt ended, not
# from when the release reached Redis; age -1: never used (no request went), free at once.
# A permit whose lease ran out was already counted as returning from then; its late end
# pushes that return later.
RELEASE = """
local held, back = KEYS[1], KEYS[2]
local window, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 4, #ARGV, 2 do
  local age = tonumber(ARGV[i + 1])
  local back_at = now - age + window
  if redis.call('ZREM', held, ARGV[i]) == 1 then
    if age >= 0 then redis.call('ZADD', back, back_at, ARGV[i]) end
  elseif age >= 0 then
    redis.call('ZADD', back, 'XX', 'GT', back_at, ARGV[i])
  end
end
redis.call('PEXPIRE', back, ttl)
redis.call('PUBLISH', ARGV[3], 'release')
return now
"""

# KEYS: pause.  ARGV: pause ms, channel.  Extends the shared pause; never shortens it.
PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untl = now + tonumber(ARGV[1])
if untl > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], untl, 'PX', tonumber(ARGV[1]) + 1000)
  redis.call('PUBLISH', ARGV[2], 'pause')
end
return untl
"""
