//! What the user sees on the terminal: one progress bar per running transfer (bytes,
//! rate, time left), status lines on stderr and chat lines on stdout.
//!
//! Bars and plain lines share the terminal, so every line goes through here and is
//! printed "above" the bars. When stderr is not a terminal (a script, a test) the bars
//! hide themselves and only the lines remain.

use std::collections::HashMap;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use meshdrop_protocol::frame::TransferId;
use meshdrop_protocol::PeerId;

const BAR_TEMPLATE: &str =
    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}";

pub struct ProgressUi {
    multi: MultiProgress,
    bars: HashMap<(PeerId, TransferId), ProgressBar>,
}

impl ProgressUi {
    pub fn new() -> Self {
        Self {
            multi: MultiProgress::new(),
            bars: HashMap::new(),
        }
    }

    /// Show a bar for a transfer that started moving bytes; one that resumes after a
    /// pause keeps its bar.
    pub fn start(&mut self, peer: &PeerId, transfer: TransferId, label: String, total: u64) {
        if self.bars.contains_key(&(peer.clone(), transfer)) {
            return;
        }
        let style = ProgressStyle::with_template(BAR_TEMPLATE)
            .expect("the bar template is valid")
            .progress_chars("=> ");
        let bar = self.multi.add(ProgressBar::new(total).with_style(style));
        bar.set_message(label);
        self.bars.insert((peer.clone(), transfer), bar);
    }

    /// Bars of `peer`'s transfers, to update after its bytes moved.
    pub fn bars_of<'a>(
        &'a self,
        peer: &'a PeerId,
    ) -> impl Iterator<Item = (TransferId, &'a ProgressBar)> + 'a {
        self.bars
            .iter()
            .filter(move |((owner, _), _)| owner == peer)
            .map(|((_, transfer), bar)| (*transfer, bar))
    }

    /// Take a transfer's bar off the screen.
    pub fn finish(&mut self, peer: &PeerId, transfer: TransferId) {
        if let Some(bar) = self.bars.remove(&(peer.clone(), transfer)) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    /// A status line for people, on stderr.
    pub fn status(&self, line: impl AsRef<str>) {
        self.multi.suspend(|| eprintln!("{}", line.as_ref()));
    }

    /// A line of output proper (chat), on stdout.
    pub fn output(&self, line: impl AsRef<str>) {
        self.multi.suspend(|| println!("{}", line.as_ref()));
    }
}
