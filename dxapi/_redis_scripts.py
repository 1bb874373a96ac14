"""The Lua scripts of :class:`dxapi.RedisLimiter`: every change to a shared budget is one of them.

Each reads Redis's own clock (``TIME``, in ms), so the hosts' clocks never matter. Lua numbers
are doubles: ms timestamps (13 digits) are exact.
"""

__all__ = ["ACQUIRE", "PAUSE", "RELEASE"]

# KEYS: held, back, pause, last, wake.  ARGV: limit, window ms, lease ms, spacing ms, want, id
# prefix, first sequence number.  Returns {granted, now ms, wait ms, all in flight (0/1), how
# many of them are free now, then for each of the others the ms until it may be used}: a token
# still on its way back is reserved (moved from back to held, leased from its return) and may
# be used at its return, so the caller sleeps locally instead of asking again when it comes
# back. Short of permits with nothing left to reserve ("all in flight"), it sets the wake
# flag: the next release publishes on the channel. Given all it asked for, wait and "all in
# flight" describe the tokens left unreserved.
ACQUIRE = """
local held, back, pause, last, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
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
local free = limit - redis.call('ZCARD', held) - redis.call('ZCARD', back)
local n = math.max(0, math.min(want, free))
local out = {0, now, 0, 0, 0}
if spacing > 0 and n > 0 then  -- one permit at a time, never reserved ahead
  local prev = tonumber(redis.call('GET', last) or '0')
  if prev + spacing > now then return {0, now, prev + spacing - now, 0} end
  n = 1
  redis.call('SET', last, now, 'PX', spacing + 1000)
end
for i = 0, n - 1 do
  redis.call('ZADD', held, now + lease, ARGV[6] .. (seq + i))
end
out[5] = n
if want > n and spacing == 0 then
  local coming = redis.call('ZRANGE', back, 0, want - n - 1, 'WITHSCORES')
  for i = 1, #coming, 2 do
    local at = tonumber(coming[i + 1])
    redis.call('ZREM', back, coming[i])
    redis.call('ZADD', held, at + lease, ARGV[6] .. (seq + n))
    out[#out + 1] = at - now
    n = n + 1
  end
end
local ttl = lease + window + 1000
if n > 0 then
  redis.call('PEXPIRE', held, ttl)
  redis.call('PEXPIRE', back, ttl)
end
out[1] = n
if n > 0 and spacing > 0 then return out end
local wait, busy = -1, 1
local first = redis.call('ZRANGE', back, 0, 0, 'WITHSCORES')
if first[2] then wait, busy = tonumber(first[2]) - now, 0 end
if n == want then  -- nobody waits; the earliest return nobody has reserved
  out[3], out[4] = wait, busy
  return out
end
local lease1 = redis.call('ZRANGE', held, 0, 0, 'WITHSCORES')
if lease1[2] then
  local w = tonumber(lease1[2]) + window - now
  if wait < 0 or w < wait then wait = w end
end
if busy == 1 then redis.call('SET', wake, 1, 'PX', ttl) end
out[3], out[4] = wait, busy
return out
"""

# KEYS: held, back, wake.  ARGV: window ms, ttl ms, channel, then (permit id, ms since it ended, ms
# until it may be used) triples: the age is a local duration, so the return counts from when
# the attempt ended, not from when the release reached Redis; age -1: never used (no request
# went), free at once, or at its reserved time if that is still to come. A permit whose lease
# ran out was already counted as returning from then; its late end pushes that return later.
# Publishes only when a caller waits for a release (the wake flag): "free" if a token is free
# now, else "back".
RELEASE = """
local held, back = KEYS[1], KEYS[2]
local window, ttl, free = tonumber(ARGV[1]), tonumber(ARGV[2]), 0
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 4, #ARGV, 3 do
  local age, ahead = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local back_at = now - age + window
  if age < 0 then back_at = now + ahead end
  if redis.call('ZREM', held, ARGV[i]) == 1 then
    if age >= 0 or ahead > 0 then redis.call('ZADD', back, back_at, ARGV[i]) else free = 1 end
  elseif age >= 0 then
    redis.call('ZADD', back, 'XX', 'GT', back_at, ARGV[i])
  end
end
redis.call('PEXPIRE', back, ttl)
if redis.call('DEL', KEYS[3]) == 1 then
  redis.call('PUBLISH', ARGV[3], free == 1 and 'free' or 'back')
end
return now
"""

# KEYS: pause.  ARGV: pause ms, channel.  Extends the shared pause; never shortens it.
PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untl = now + tonumber(ARGV[1])
if untl > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], untl, 'PX', tonumber(ARGV[1]) + 1000)
  redis.call('PUBLISH', ARGV[2], 'pause:' .. ARGV[1])
end
return untl
"""
