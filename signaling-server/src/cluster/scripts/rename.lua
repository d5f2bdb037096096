-- Change a seat holder's name and tell the room. ARGV: room, peer id, seat, name.
-- Returns 1 if the seat is still held.
local room, peer, seat, name = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local held = redis.call('HGET', room_key(room), peer)
if not held then return 0 end
local node, held_seat = parse(held)
if held_seat ~= seat then return 0 end
redis.call('HSET', room_key(room), peer, node .. '|' .. seat .. '|' .. name)
local seq = redis.call('INCR', 'meshdrop:seq')
tell_room(room, { kind = 'renamed', seq = seq, room = room, peer = { id = peer, name = name } }, peer)
return 1
