//! Counters the end-to-end tests and the benchmark read from `document.body.dataset`:
//! how links were recovered, and how many file bytes crossed the data channels, so a
//! test can tell how much a recovery sent twice (bytes beyond the files' sizes).

use std::cell::RefCell;

use meshdrop_sorted_map::SortedMap;

/// What is counted, and under which `dataset` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tally {
    /// ICE restarts this page offered.
    IceRestarts,
    /// Links this page replaced by new connections.
    LinkRebuilds,
    /// Chunk payload bytes that left through this page's data channels: handed to them,
    /// less what was still queued in a link when it was dropped.
    BytesSent,
    /// Chunk payload bytes that arrived on its data channels.
    BytesReceived,
}

impl Tally {
    fn dataset_key(self) -> &'static str {
        match self {
            Self::IceRestarts => "iceRestarts",
            Self::LinkRebuilds => "linkRebuilds",
            Self::BytesSent => "bytesSent",
            Self::BytesReceived => "bytesReceived",
        }
    }
}

thread_local! {
    /// One page, one set of totals: the page is the unit the tests measure.
    static TOTALS: RefCell<SortedMap<Tally, u64>> = RefCell::new(SortedMap::new());
}

/// Add `amount` to `tally`, and show the new total in the page's `dataset`.
pub fn add(tally: Tally, amount: u64) {
    update(tally, |total| total.saturating_add(amount));
}

/// Take `amount` off `tally`: counted, but it did not happen after all.
pub fn take_back(tally: Tally, amount: u64) {
    update(tally, |total| total.saturating_sub(amount));
}

fn update(tally: Tally, change: impl FnOnce(u64) -> u64) {
    let total = TOTALS.with_borrow_mut(|totals| {
        let total = totals.or_default(&tally);
        *total = change(*total);
        *total
    });
    let body = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body());
    if let Some(body) = body {
        let _ = body.dataset().set(tally.dataset_key(), &total.to_string());
    }
}
