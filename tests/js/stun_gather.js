// Joins a room over the app's signaling socket to learn the ICE servers the server hands
// out, then gathers candidates through them. Returns what it saw, for the test to judge.
// arguments[0]: the protocol version to join with.
return (async () => {
  const socket = new WebSocket(`ws://${location.host}/ws`);
  const welcome = await new Promise((resolve, reject) => {
    socket.onopen = () => socket.send(JSON.stringify({
      type: "join", version: arguments[0], room: "stun-probe", name: "probe",
      session_key: "0123456789abcdef0123456789abcdef",
    }));
    socket.onmessage = (event) => resolve(JSON.parse(event.data));
    socket.onerror = () => reject(new Error("signaling socket failed"));
  });
  socket.close();
  const connection = new RTCPeerConnection({ iceServers: welcome.ice_servers });
  connection.createDataChannel("probe");
  const candidates = [];
  const gathered = new Promise((resolve) => {
    connection.onicecandidate = (event) => {
      if (event.candidate) candidates.push(event.candidate.candidate);
      else resolve();
    };
  });
  await connection.setLocalDescription(await connection.createOffer());
  await gathered;
  connection.close();
  const metrics = await (await fetch("/metrics")).text();
  return { ice_servers: welcome.ice_servers, candidates, metrics };
})();
