// Chat latency, page to page, for the benchmark. One page sends a chat line through the
// chat form every so often, its text holding when it was sent; the other page watches its
// chat log and notes, for each such line, how long after sending it showed. Both pages run
// on one machine, so `performance.timeOrigin + performance.now()` is one clock for both.
// Where the time goes is noted on the way: when the sending page hands the line to its
// data channel (`RTCDataChannel.prototype.send`), and when the receiving page's script
// first reads the message event that carries it (`MessageEvent.prototype.data`).
//   chatLatency.send(everyMs)   starts sending "latency <n> <sent at>" lines
//   chatLatency.stop()          stops, and returns how many were sent
//   chatLatency.watch()         starts noting the lines that arrive
//   chatLatency.handedOver()    per line sent: [n, ms from typed to handed to the channel]
//   chatLatency.latencies()     per line seen: [n, ms from sent to read, to shown]
window.chatLatency ??= (() => {
  const now = () => performance.timeOrigin + performance.now();
  const LINE = /latency (\d+) ([\d.]+)/;
  let sending = null;
  let sent = 0;
  const handed = new Map();
  const read = new Map();
  const shown = new Map();
  // Each wrapper notes the first time it sees a line; it changes nothing else.
  const noteFirst = (map, value, at) => {
    if (typeof value !== "string") return;
    const found = LINE.exec(value);
    if (found && !map.has(found[1])) map.set(found[1], at - Number(found[2]));
  };
  // Only what changed is looked at: a walk over the whole log on every change would cost
  // the watching page time in proportion to the history, and slow what it measures.
  const note = (records) => {
    const at = now();
    for (const record of records) {
      const nodes = record.type === "characterData" ? [record.target] : record.addedNodes;
      for (const node of nodes) {
        const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
        const line = element?.closest("li.chat-message:not(.mine)");
        if (line) noteFirst(shown, line.textContent, at);
      }
    }
  };
  return {
    send(everyMs) {
      const send = RTCDataChannel.prototype.send;
      RTCDataChannel.prototype.send = function (data) {
        noteFirst(handed, data, now());
        return send.call(this, data);
      };
      sending = setInterval(() => {
        const input = document.querySelector("#chat-input");
        input.value = `latency ${sent++} ${now()}`;
        document.querySelector("#chat-form").requestSubmit();
      }, everyMs);
    },
    stop() {
      clearInterval(sending);
      return sent;
    },
    watch() {
      const data = Object.getOwnPropertyDescriptor(MessageEvent.prototype, "data");
      Object.defineProperty(MessageEvent.prototype, "data", {
        ...data,
        get() {
          const value = data.get.call(this);
          noteFirst(read, value, now());
          return value;
        },
      });
      const log = document.querySelector("#chat-log");
      new MutationObserver(note).observe(log, { childList: true, subtree: true, characterData: true });
    },
    handedOver: () => [...handed.entries()].map(([n, ms]) => [Number(n), ms]),
    latencies: () => [...shown.entries()].map(([n, ms]) => [Number(n), read.get(n) ?? null, ms]),
  };
})();
