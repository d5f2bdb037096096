-- Pass a signal to the node of its recipient. ARGV: room, sender id, sender's seat,
-- recipient id, the event to publish. Returns 1 if sent, 0 if the recipient is not in
-- the room or the sender's seat was taken over.
local room, from, seat, to = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local sender = redis.call('HGET', room_key(room), from)
if not sender or select(2, parse(sender)) ~= seat then return 0 end
local recipient = redis.call('HGET', room_key(room), to)
if not recipient then return 0 end
redis.call('PUBLISH', 'meshdrop:node:' .. parse(recipient), ARGV[5])
return 1
