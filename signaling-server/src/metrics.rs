//! Counters for operators, served at `GET /metrics` in the Prometheus text format.
//!
//! Counters only ever go up and live here as atomics, bumped where the event happens.
//! Gauges (open connections, joined peers, rooms) are not kept as counters that could
//! drift: they are read from the live state at scrape time and handed to [`render`].
//! The built-in relay keeps its own (`meshdrop_relay::Stats`), read here at scrape time.
//!
//! The exposition is written by hand: a handful of series does not need a library.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use meshdrop_protocol::signaling::ErrorCode;
use meshdrop_relay::{Refusal as RelayRefusal, Stats as RelayStats};

use crate::admission::Refusal;

use crate::connection::wire_name;

/// The `Content-Type` of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Event counters shared by every connection and the STUN responder.
#[derive(Debug, Default)]
pub struct Metrics {
    signals_forwarded: AtomicU64,
    stun_requests: AtomicU64,
    /// By wire name of the reason, sorted so the exposition is stable.
    rejected: Mutex<BTreeMap<String, u64>>,
    refused_address_full: AtomicU64,
    refused_server_full: AtomicU64,
}

/// The gauges, as read from the live state at scrape time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Gauges {
    /// Accepted TCP connections holding a place (see `admission`), of any kind.
    pub accepted: usize,
    /// Open signaling WebSockets, joined or not.
    pub connections: usize,
    /// Peers seated in a room.
    pub peers: usize,
    pub rooms: usize,
    /// Bytes waiting in all connections' outboxes.
    pub queued_bytes: usize,
}

impl Metrics {
    pub fn signal_forwarded(&self) {
        self.signals_forwarded.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stun_request_answered(&self) {
        self.stun_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A TCP connection was closed as soon as it was accepted.
    pub fn connection_refused(&self, refusal: Refusal) {
        let counter = match refusal {
            Refusal::AddressFull => &self.refused_address_full,
            Refusal::ServerFull => &self.refused_server_full,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A client message was refused or dropped for `reason`.
    pub fn message_rejected(&self, reason: ErrorCode) {
        let mut rejected = self.rejected.lock().unwrap_or_else(PoisonError::into_inner);
        *rejected.entry(wire_name(reason)).or_default() += 1;
    }

    /// The whole exposition: these counters, the given gauges, and the built-in relay's
    /// series if it runs.
    pub fn render(&self, gauges: Gauges, relay: Option<&RelayStats>) -> String {
        let mut text = String::new();
        let mut series = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
            // Writing to a String cannot fail.
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(text, "{name}{labels} {value}");
            }
        };
        let unlabelled = |value: usize| [(String::new(), value as u64)];
        series(
            "meshdrop_tcp_connections",
            "gauge",
            "Accepted TCP connections (HTTP or WebSocket) counted against the connection caps.",
            &unlabelled(gauges.accepted),
        );
        series(
            "meshdrop_connections",
            "gauge",
            "Open signaling WebSockets, joined to a room or not.",
            &unlabelled(gauges.connections),
        );
        series(
            "meshdrop_peers",
            "gauge",
            "Peers joined to a room.",
            &unlabelled(gauges.peers),
        );
        series(
            "meshdrop_rooms",
            "gauge",
            "Rooms with at least one peer.",
            &unlabelled(gauges.rooms),
        );
        series(
            "meshdrop_queued_bytes",
            "gauge",
            "Bytes of messages waiting for their clients to read them, all connections together.",
            &unlabelled(gauges.queued_bytes),
        );
        series(
            "meshdrop_signals_forwarded_total",
            "counter",
            "Signals (SDP offers, answers, ICE candidates) passed from one peer to another.",
            &[(
                String::new(),
                self.signals_forwarded.load(Ordering::Relaxed),
            )],
        );
        series(
            "meshdrop_messages_rejected_total",
            "counter",
            "Client messages refused or dropped, by the error code that names the reason.",
            &self.rejections(),
        );
        let refused = |refusal: Refusal, counter: &AtomicU64| {
            let labels = format!("{{reason=\"{}\"}}", refusal.label());
            (labels, counter.load(Ordering::Relaxed))
        };
        series(
            "meshdrop_connections_refused_total",
            "counter",
            "TCP connections closed as soon as they were accepted, by the cap that was full.",
            &[
                refused(Refusal::AddressFull, &self.refused_address_full),
                refused(Refusal::ServerFull, &self.refused_server_full),
            ],
        );
        series(
            "meshdrop_stun_requests_total",
            "counter",
            "STUN requests answered by the built-in STUN server.",
            &[(String::new(), self.stun_requests.load(Ordering::Relaxed))],
        );
        if let Some(relay) = relay {
            let one = |value: u64| [(String::new(), value)];
            series(
                "meshdrop_relay_allocations",
                "gauge",
                "Allocations held on the built-in TURN relay.",
                &one(relay.allocations()),
            );
            series(
                "meshdrop_relay_bytes_total",
                "counter",
                "Payload bytes relayed by the built-in TURN relay, both directions.",
                &one(relay.bytes_relayed()),
            );
            series(
                "meshdrop_relay_dropped_over_limit_total",
                "counter",
                "Datagrams the built-in TURN relay dropped: their credential was over its bandwidth.",
                &one(relay.dropped_over_limit()),
            );
            series(
                "meshdrop_relay_malformed_total",
                "counter",
                "Datagrams to the built-in TURN relay that were neither STUN nor ChannelData.",
                &one(relay.malformed()),
            );
            let refused: Vec<(String, u64)> = RelayRefusal::ALL
                .iter()
                .map(|reason| {
                    let label = format!("{{reason=\"{}\"}}", reason.name());
                    (label, relay.refused(*reason))
                })
                .collect();
            series(
                "meshdrop_relay_refused_total",
                "counter",
                "TURN requests the built-in relay refused, by reason.",
                &refused,
            );
        }
        text
    }

    fn rejections(&self) -> Vec<(String, u64)> {
        let rejected = self.rejected.lock().unwrap_or_else(PoisonError::into_inner);
        rejected
            .iter()
            // Reasons are snake_case wire names, so they need no escaping.
            .map(|(reason, count)| (format!("{{reason=\"{reason}\"}}"), *count))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn counters_and_gauges_appear_with_their_values() {
        let metrics = Metrics::default();
        metrics.signal_forwarded();
        metrics.signal_forwarded();
        metrics.stun_request_answered();
        metrics.message_rejected(ErrorCode::RateLimited);
        metrics.message_rejected(ErrorCode::UnknownPeer);
        metrics.message_rejected(ErrorCode::RateLimited);
        metrics.connection_refused(Refusal::AddressFull);
        let text = metrics.render(
            Gauges {
                accepted: 5,
                connections: 3,
                peers: 2,
                rooms: 1,
                queued_bytes: 700,
            },
            None,
        );
        assert_eq!(sample(&text, "meshdrop_tcp_connections"), Some("5"));
        assert_eq!(sample(&text, "meshdrop_connections"), Some("3"));
        assert_eq!(sample(&text, "meshdrop_queued_bytes"), Some("700"));
        assert_eq!(sample(&text, "meshdrop_peers"), Some("2"));
        assert_eq!(sample(&text, "meshdrop_rooms"), Some("1"));
        assert_eq!(sample(&text, "meshdrop_signals_forwarded_total"), Some("2"));
        assert_eq!(sample(&text, "meshdrop_stun_requests_total"), Some("1"));
        assert_eq!(
            sample(
                &text,
                "meshdrop_messages_rejected_total{reason=\"rate_limited\"}"
            ),
            Some("2")
        );
        assert_eq!(
            sample(
                &text,
                "meshdrop_messages_rejected_total{reason=\"unknown_peer\"}"
            ),
            Some("1")
        );
        assert_eq!(
            sample(
                &text,
                "meshdrop_connections_refused_total{reason=\"address_full\"}"
            ),
            Some("1")
        );
    }

    #[test]
    fn every_series_is_typed_once() {
        let text = Metrics::default().render(Gauges::default(), None);
        let types: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .collect();
        assert_eq!(types.len(), 9);
        assert!(types.contains(&"meshdrop_messages_rejected_total counter"));
    }

    #[test]
    fn the_relay_s_series_appear_when_it_runs() {
        let gauges = Gauges::default();
        let text = Metrics::default().render(gauges, Some(&RelayStats::default()));
        assert_eq!(sample(&text, "meshdrop_relay_allocations"), Some("0"));
        assert_eq!(sample(&text, "meshdrop_relay_bytes_total"), Some("0"));
        assert_eq!(
            sample(
                &text,
                "meshdrop_relay_refused_total{reason=\"allocation_quota\"}"
            ),
            Some("0")
        );
        let types = text
            .lines()
            .filter(|line| line.starts_with("# TYPE "))
            .count();
        assert_eq!(types, 14);
    }
}
