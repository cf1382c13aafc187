-- PUT /feedback/ resolving clicks sampled earlier, each exactly once (a repeat would be an
-- idempotent replay, not the real path). args: nthreads, conversion_every, then pool
-- entries "<click prefix>=<first>:<last>": click ids <prefix><first> .. <prefix><last>
-- exist. Thread i takes first+i-1, first+i-1+nthreads, ... of every entry, so threads
-- never share a click. Every conversion_every-th request of a thread reports reward=12.5,
-- the others reward=0. If the pool runs dry, ids "dry.t<i>.<n>" follow: unknown clicks
-- answer 404, which wrk counts as non-2xx, and done() prints "DRY <count>" to say why.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  nthreads = tonumber(args[1])
  every = tonumber(args[2])
  pool = {}
  for i = 3, #args do
    local click_prefix, first, last = string.match(args[i], "^(.*)=(%d+):(%d+)$")
    table.insert(pool, {click_prefix, tonumber(first), tonumber(last)})
  end
  entry, sent, dry = 1, 0, 0
  k = pool[1] and pool[1][2] + id - 1
end

function request()
  sent = sent + 1
  while entry <= #pool and k > pool[entry][3] do
    entry = entry + 1
    k = pool[entry] and pool[entry][2] + id - 1
  end
  local click_id
  if entry <= #pool then
    click_id = pool[entry][1] .. k
    k = k + nthreads
  else
    dry = dry + 1
    click_id = "dry.t" .. id .. "." .. dry
  end
  local reward = (sent % every == 0) and "12.5" or "0"
  return wrk.format("PUT", "/feedback/?click_id=" .. click_id .. "&reward=" .. reward)
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("dry")
  end
  io.write(string.format("DRY %d\n", total))
end
