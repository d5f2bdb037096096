-- Renew this node's presence, and free the seats of nodes whose presence expired,
-- telling their rooms the peers left (those that came back through another node
-- already took their seats over and are not touched).
-- ARGV: node, presence lifetime in ms. Returns {was this node's presence still there
-- (1 or 0), peers freed}.
local me, lifetime = ARGV[1], ARGV[2]
local was_alive = redis.call('SET', 'meshdrop:alive:' .. me, '1', 'PX', lifetime, 'GET')
redis.call('SADD', 'meshdrop:nodes', me)
local freed = 0
for _, node in ipairs(redis.call('SMEMBERS', 'meshdrop:nodes')) do
  if redis.call('EXISTS', 'meshdrop:alive:' .. node) == 0 then
    for _, entry in ipairs(redis.call('SMEMBERS', seats_key(node))) do
      local room, peer = string.match(entry, '^(%S+) (%S+)$')
      local held = redis.call('HGET', room_key(room), peer)
      if held and parse(held) == node then
        vacate(room, peer, node)
        freed = freed + 1
      end
    end
    redis.call('DEL', seats_key(node))
    redis.call('SREM', 'meshdrop:nodes', node)
  end
end
return { was_alive and 1 or 0, freed }
