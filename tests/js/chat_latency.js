// Chat latency, page to page, for the benchmark. One page sends a chat line through the
// chat form every so often, its text holding when it was sent; the other page watches its
// chat log and notes, for each such line, how long after sending it showed. Both pages run
// on one machine, so `performance.timeOrigin + performance.now()` is one clock for both.
//   chatLatency.send(everyMs)   starts sending "latency <n> <sent at>" lines
//   chatLatency.stop()          stops, and returns how many were sent
//   chatLatency.watch()         starts noting the lines that arrive
//   chatLatency.latencies()     milliseconds from sent to shown, one per line seen
window.chatLatency ??= (() => {
  const now = () => performance.timeOrigin + performance.now();
  let sending = null;
  let sent = 0;
  const shown = new Map();
  const note = () => {
    const at = now();
    const lines = document.querySelectorAll("#chat-log li.chat-message:not(.mine)");
    // Lines are appended: walk back from the newest until one was already noted.
    for (let i = lines.length - 1; i >= 0; i--) {
      const found = /latency (\d+) ([\d.]+)/.exec(lines[i].textContent);
      if (!found) continue;
      if (shown.has(found[1])) break;
      shown.set(found[1], at - Number(found[2]));
    }
  };
  return {
    send(everyMs) {
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
      const log = document.querySelector("#chat-log");
      new MutationObserver(note).observe(log, { childList: true, subtree: true, characterData: true });
    },
    latencies: () => [...shown.values()],
  };
})();
