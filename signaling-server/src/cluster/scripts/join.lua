-- Seat a peer, or give a reconnecting one its seat back (then the old connection's
-- node is told it was replaced, and the room hears nothing unless the name changed).
-- ARGV: room, peer id, name, node, max peers per room, 1 for a meeting place.
-- Returns {'ok', seat, id, name, id, name, ...} (the others, in join order) or
-- {'room_full'} or {'code_spent'}.
local room, peer, name, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local max, meeting_place = tonumber(ARGV[5]), ARGV[6] == '1'
if meeting_place and redis.call('SISMEMBER', admitted_key(room), peer) == 0
    and redis.call('SCARD', admitted_key(room)) >= 2 then
  return { 'code_spent' }
end
local previous = redis.call('HGET', room_key(room), peer)
if not previous and redis.call('HLEN', room_key(room)) >= max then
  return { 'room_full' }
end
if meeting_place then
  redis.call('SADD', admitted_key(room), peer)
end
local seat = redis.call('INCR', 'meshdrop:seq')
redis.call('HSET', room_key(room), peer, node .. '|' .. seat .. '|' .. name)
redis.call('SADD', seats_key(node), room .. ' ' .. peer)
local news = { kind = 'joined', seq = seat, room = room, peer = { id = peer, name = name } }
if previous then
  local old_node, old_seat, old_name = parse(previous)
  if old_node ~= node then
    redis.call('SREM', seats_key(old_node), room .. ' ' .. peer)
  end
  redis.call('PUBLISH', 'meshdrop:node:' .. old_node,
    cjson.encode({ kind = 'replaced', room = room, peer_id = peer, seat = old_seat }))
  news.kind = 'renamed'
  if old_name == name then
    news = nil
  end
end
if news then
  tell_room(room, news, peer)
end
local others = {}
local members = redis.call('HGETALL', room_key(room))
for i = 1, #members, 2 do
  if members[i] ~= peer then
    local _, other_seat, other_name = parse(members[i + 1])
    table.insert(others, { other_seat, members[i], other_name })
  end
end
table.sort(others, function(a, b) return a[1] < b[1] end)
local answer = { 'ok', tostring(seat) }
for _, other in ipairs(others) do
  table.insert(answer, other[2])
  table.insert(answer, other[3])
end
return answer
