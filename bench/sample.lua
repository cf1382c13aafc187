-- GET /sample/ with a click id nobody used before: "<tag>.t<thread>.<counter>".
-- A repeated click id is an idempotent replay (a cheap lookup), so reusing ids would
-- measure the wrong path. args: tag (unique per wrk run), offer_ids ("1,2,...,N"), and
-- optionally another path with its query string up to the click id (a smartlink's
-- "/go/<name>?"), which then replaces /sample/'s.
-- done() prints "CLICKS <prefix> <count>" per thread so that run.py knows which
-- click ids exist and can hand them to feedback.lua.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  prefix = (args[3] or ("/sample/?offer_ids=" .. args[2] .. "&")) .. "click_id="
  click_prefix = args[1] .. ".t" .. id .. "."
  sent = 0
end

function request()
  sent = sent + 1
  return wrk.format("GET", prefix .. click_prefix .. sent)
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("CLICKS %s %d\n", thread:get("click_prefix"), thread:get("sent")))
  end
end
