-- Give up a seat, unless a newer connection took it over. ARGV: room, peer id, seat.
-- Returns 1 if the seat was given up.
local room, peer, seat = ARGV[1], ARGV[2], tonumber(ARGV[3])
local held = redis.call('HGET', room_key(room), peer)
if not held then return 0 end
local node, held_seat = parse(held)
if held_seat ~= seat then return 0 end
vacate(room, peer, node)
return 1
