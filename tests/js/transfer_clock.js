// When each transfer row of the Meshdrop app first showed each state, by the page's clock.
//
// Polling over WebDriver sees a state up to a poll interval late, and each poll costs the
// page CPU that a benchmark would then count against the app; this observer sees the DOM
// change as it happens. Install it before the transfer starts, then
//   transferClock.times(peerId, transferId) -> { offered, transferring, done, saved, ... }
//   transferClock.ended(peerId, transferId) -> a promise of the same, once the transfer
//     is done and saveable, or has failed, been cancelled or been declined
// in milliseconds of performance.now(); `saved` is when the first save link appeared.
window.transferClock ??= (() => {
  const seen = {};
  let waiters = [];
  const record = () => {
    const now = performance.now();
    for (const row of document.querySelectorAll("li.transfer")) {
      const times = (seen[`${row.dataset.peerId}/${row.dataset.transferId}`] ??= {});
      times[row.dataset.state] ??= now;
      if (row.querySelector("a.save")) times.saved ??= now;
    }
    waiters = waiters.filter((waiter) => !waiter());
  };
  new MutationObserver(record).observe(document.body, {
    subtree: true,
    childList: true,
    attributes: true,
    characterData: true,
  });
  record();
  const times = (peer, id) => seen[`${peer}/${id}`] ?? {};
  const ended = (peer, id) =>
    new Promise((resolve) => {
      const check = () => {
        const now = times(peer, id);
        const over = now.saved ?? now.failed ?? now.cancelled ?? now.declined;
        if (over !== undefined) resolve(now);
        return over !== undefined;
      };
      if (!check()) waiters.push(check);
    });
  return { times, ended };
})();
