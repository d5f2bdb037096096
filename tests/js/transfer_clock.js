// When each transfer row of the Meshdrop app first showed each state, by the page's clock.
//
// Polling over WebDriver sees a state up to a poll interval late; this observer sees the
// DOM change as it happens. Install it before the transfer starts, then read
//   transferClock.times(peerId, transferId) -> { offered, transferring, done, saved, ... }
// in milliseconds of performance.now(); `saved` is when the first save link appeared.
window.transferClock ??= (() => {
  const seen = {};
  const record = () => {
    const now = performance.now();
    for (const row of document.querySelectorAll("#transfers li.transfer")) {
      const times = (seen[`${row.dataset.peerId}/${row.dataset.transferId}`] ??= {});
      times[row.dataset.state] ??= now;
      if (row.querySelector("a.save")) times.saved ??= now;
    }
  };
  new MutationObserver(record).observe(document.body, {
    subtree: true,
    childList: true,
    attributes: true,
    characterData: true,
  });
  record();
  return { times: (peer, id) => seen[`${peer}/${id}`] ?? {} };
})();
