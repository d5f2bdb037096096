-- Shared by every script of the cluster (see cluster/mod.rs), prepended to each.
--
-- Keys:
--   meshdrop:room:<room>      hash: peer id -> "<node>|<seat>|<name>"
--   meshdrop:admitted:<room>  set: the peers a meeting place ever seated
--   meshdrop:seq              counter: seat and event numbers, in one order
--   meshdrop:seats:<node>     set: "<room> <peer>" of each seat the node holds
--   meshdrop:alive:<node>     expires unless the node's heartbeat renews it
--   meshdrop:nodes            set: every node that has beaten
-- Channel meshdrop:node:<node> carries the events for that node's seats.

local function room_key(room) return 'meshdrop:room:' .. room end
local function admitted_key(room) return 'meshdrop:admitted:' .. room end
local function seats_key(node) return 'meshdrop:seats:' .. node end

-- A room hash's value: the node, seat number and name of the peer.
local function parse(value)
  local node, seat, name = string.match(value, '^([^|]*)|(%d+)|(.*)$')
  return node, tonumber(seat), name
end

-- Send `event` to every node with a seat in `room`, except for peer `except`'s.
local function tell_room(room, event, except)
  local nodes = {}
  local members = redis.call('HGETALL', room_key(room))
  for i = 1, #members, 2 do
    if members[i] ~= except then
      nodes[parse(members[i + 1])] = true
    end
  end
  local text = cjson.encode(event)
  for node in pairs(nodes) do
    redis.call('PUBLISH', 'meshdrop:node:' .. node, text)
  end
end

-- Take `peer`'s seat in `room` away and tell the room it left; an emptied room is
-- deleted with its meeting-place record.
local function vacate(room, peer, node)
  redis.call('HDEL', room_key(room), peer)
  redis.call('SREM', seats_key(node), room .. ' ' .. peer)
  if redis.call('EXISTS', room_key(room)) == 0 then
    redis.call('DEL', admitted_key(room))
    return
  end
  local seq = redis.call('INCR', 'meshdrop:seq')
  tell_room(room, { kind = 'left', seq = seq, room = room, peer_id = peer }, peer)
end
