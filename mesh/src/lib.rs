//! The mesh rules of Meshdrop, without I/O: who offers to whom, when a link is ICE
//! restarted or rebuilt, and when a peer is gone for good.
//!
//! The web app and the native peer both keep one WebRTC connection ("link") to every
//! other peer in the room. They must agree on every decision about those links, or two
//! offers cross and both links die; so the decisions live here, once, and each of them
//! only drives its own WebRTC stack and signaling socket ([`Mesh`] is their common
//! core, in the style of str0m): feed it what happened with `handle_*` and the current
//! time, act on everything [`Mesh::poll_output`] returns, and call
//! [`Mesh::handle_timeout`] when [`Mesh::poll_timeout`] says so. Time is a [`Duration`]
//! since any fixed instant the driver picks, so tests run on a fake clock.
//!
//! The rules (see also `docs/protocol.md`, section 2):
//! * **The newcomer offers.** On `welcome` we offer to every listed peer we have no
//!   working link with; on `peer_joined` we wait for that peer's offer.
//! * **One link first.** A newcomer with no link up offers to the first of those peers
//!   at once and holds its other offers until a link is up, or for at most
//!   [`Config::hold_offers_for`]: set up one at a time, the first link does not share
//!   the machine with all the others, so a room of many is usable as soon as a room of
//!   one.
//! * **The offerer of a link recovers it.** A link `disconnected` for
//!   [`Config::restart_after`] is ICE-restarted by the side that offered it (an offer on
//!   the same connection, through signaling). A link that `failed`, or that an offer has
//!   not brought up within [`Config::rebuild_after`], is rebuilt by that side: a new
//!   connection, which it offers too. The answering side waits for the offer, and takes
//!   over only if none came for [`Config::answerer_takeover_after`].
//! * **An offer for a new connection replaces the old one**; an offer for the current
//!   connection (same SDP session, see [`sdp`]) renegotiates it (the ICE restart).
//!   Should two new-connection offers ever cross, the offer of the peer with the smaller
//!   id wins on both sides.
//! * **Signaling only sets links up.** Working links stay when the server goes away;
//!   recovery that needs the server waits for the next `welcome`, which is a fresh
//!   start: the newcomer rule again.
//! * **Leaving.** A peer the server reports gone keeps its link until the link fails or
//!   closes (it may only be reconnecting its socket, and comes back with the same id).
//!   Then it has [`Output::PeerLeft`] the room; if it is not back within
//!   [`Config::gone_after`] it is [`Output::PeerGone`] for good.
//! * **Saying there is no path.** A peer in the room that no link has reached within
//!   [`Config::no_path_after`] of our meeting it is reported once, [`Output::NoPath`],
//!   while the rules go on trying; a link that comes up later says [`Output::LinkUp`].

pub mod path;
pub mod sdp;

use std::collections::VecDeque;
use std::time::Duration;

use meshdrop_protocol::signaling::Signal;
use meshdrop_protocol::PeerId;

use meshdrop_sorted_map::SortedMap;

/// The delays of the rules; [`Config::default`] holds the ones both apps use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// A link `disconnected` this long is ICE-restarted.
    pub restart_after: Duration,
    /// A restart or a new connection that has not brought the link up this long is
    /// replaced by a new connection.
    pub rebuild_after: Duration,
    /// The answering side of a link that is down and gets no offer for this long
    /// rebuilds it itself.
    pub answerer_takeover_after: Duration,
    /// A peer out of the room without a working link this long is gone for good.
    pub gone_after: Duration,
    /// A peer no link has reached this long after we met it is reported
    /// [`Output::NoPath`]: long enough for a relayed path, short enough that nobody
    /// waits in vain.
    pub no_path_after: Duration,
    /// A newcomer's offers after its first wait at most this long for a link to come up.
    pub hold_offers_for: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            restart_after: Duration::from_secs(2),
            rebuild_after: Duration::from_secs(10),
            answerer_takeover_after: Duration::from_secs(30),
            gone_after: Duration::from_secs(5 * 60),
            no_path_after: Duration::from_secs(8),
            hold_offers_for: Duration::from_millis(500),
        }
    }
}

/// Names one peer connection: a link replaced by a new one has a new id, so the driver
/// can tell the events of the current link from those of a replaced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u64);

/// What the driver's WebRTC stack says about a link, as `RTCPeerConnectionState` with
/// `Connected` meaning "connected and the control channel open".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Connected,
    Disconnected,
    Failed,
    /// The connection or its control channel closed: this link is over.
    Closed,
}

/// Which end of a link made its offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Offerer,
    Answerer,
}

/// What the driver must do or report, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Create a new connection `link` to `peer` and send it an offer. `rebuild` says it
    /// replaces an earlier link (announced by [`Output::CloseLink`] just before).
    OpenLink {
        peer: PeerId,
        link: LinkId,
        rebuild: bool,
    },
    /// Create a new connection `link` to `peer`, apply its offer `sdp` and send the
    /// answer.
    AnswerOffer {
        peer: PeerId,
        link: LinkId,
        sdp: String,
        rebuild: bool,
    },
    /// Hand a signal from `peer` to the existing connection `link`: an answer, a
    /// candidate, or an offer renegotiating it, to be answered.
    ApplySignal {
        peer: PeerId,
        link: LinkId,
        signal: Signal,
    },
    /// Send `peer` an offer with fresh ICE credentials on the existing connection.
    RestartIce { peer: PeerId, link: LinkId },
    /// Close connection `link` to `peer`; nothing more of it matters.
    CloseLink { peer: PeerId, link: LinkId },
    /// The link to `peer` carries data (again).
    LinkUp { peer: PeerId },
    /// The link to `peer` stopped carrying data; recovery is under way. Nothing is lost
    /// yet: keep what is in flight for when it is up again.
    LinkDown { peer: PeerId },
    /// `peer` is out of the room and has no working link: stop showing it. It may come
    /// back with the same id within [`Config::gone_after`].
    PeerLeft { peer: PeerId },
    /// `peer` has been away for [`Config::gone_after`]: give up on it.
    PeerGone { peer: PeerId },
    /// No link has reached `peer` within [`Config::no_path_after`] of meeting it: say so
    /// (see [`path::Reach`]). The rules keep trying; [`Output::LinkUp`] follows if a
    /// link ever comes up.
    NoPath { peer: PeerId },
}

/// The mesh rules for one participant of one room.
pub struct Mesh {
    config: Config,
    me: Option<PeerId>,
    signaling_up: bool,
    peers: SortedMap<PeerId, Peer>,
    next_link: u64,
    outputs: VecDeque<Output>,
}

/// What we know of one other peer.
#[derive(Default)]
struct Peer {
    /// The server last said the peer is in the room.
    present: bool,
    /// Since when it is out of the room without a working link.
    away_since: Option<Duration>,
    link: Option<Link>,
    /// Whether the last of `LinkUp` / `LinkDown` we reported was `LinkUp`.
    up: bool,
    /// Since when the peer is in the room and no link has reached it yet; cleared once
    /// one has, or once [`Output::NoPath`] was reported.
    unreached_since: Option<Duration>,
    /// SDP sessions of replaced links, so their late answers are not taken for ours.
    retired: VecDeque<String>,
    /// When our held offer of a new link is due (see "One link first").
    offer_at: Option<Duration>,
}

impl Peer {
    /// We meet the peer in the room: if no link reaches it, [`Output::NoPath`] is due.
    fn met(&mut self, now: Duration) {
        if !self.up && self.unreached_since.is_none() {
            self.unreached_since = Some(now);
        }
    }
}

/// How many replaced sessions a peer remembers: more than a link is rebuilt while a
/// signal can still be on its way.
const RETIRED_SESSIONS: usize = 4;

struct Link {
    id: LinkId,
    role: Role,
    state: LinkState,
    /// Whether it was ever connected: only such a link is worth waiting for.
    was_up: bool,
    /// The SDP session of the peer's end, once its offer or answer is seen.
    remote_session: Option<String>,
    /// The next recovery step and when it is due.
    due: Option<(Duration, Step)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Restart,
    Rebuild,
}

impl Mesh {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            me: None,
            signaling_up: false,
            peers: SortedMap::new(),
            next_link: 0,
            outputs: VecDeque::new(),
        }
    }

    /// The next thing to do or report.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Mesh::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.peers
            .values()
            .flat_map(|peer| {
                let due = peer.link.as_ref().and_then(|link| link.due).map(|d| d.0);
                let gone = peer.away_since.map(|since| since + self.config.gone_after);
                let no_path = peer
                    .unreached_since
                    .map(|since| since + self.config.no_path_after);
                [due, gone, no_path, peer.offer_at]
            })
            .flatten()
            .min()
    }

    /// The link to `peer` the rules currently stand by, if any.
    pub fn current_link(&self, peer: &PeerId) -> Option<LinkId> {
        Some(self.peers.get(peer)?.link.as_ref()?.id)
    }

    /// Which end of its current link we are.
    pub fn role(&self, peer: &PeerId) -> Option<Role> {
        Some(self.peers.get(peer)?.link.as_ref()?.role)
    }

    /// The server let us in as `me`; `peers` are the others in the room.
    pub fn handle_welcome(&mut self, now: Duration, me: PeerId, peers: &[PeerId]) {
        self.me = Some(me);
        self.signaling_up = true;
        let absent: Vec<PeerId> = self
            .peers
            .keys()
            .filter(|id| !peers.contains(id))
            .cloned()
            .collect();
        for id in absent {
            self.peer_out(now, &id);
        }
        let hold = !self.peers.values().any(|peer| peer.up);
        let mut offered = false;
        for id in peers {
            let peer = self.peers.or_default(id);
            peer.present = true;
            peer.away_since = None;
            peer.offer_at = None;
            peer.met(now);
            let link = peer.link.as_ref();
            if link.is_some_and(|link| link.state == LinkState::Connected) {
                continue;
            }
            // Without a working link the newcomer offers: on the connection we have
            // when it only lost its path, else on a new one.
            let restartable = link.is_some_and(|link| {
                link.role == Role::Offerer && link.state == LinkState::Disconnected
            });
            if restartable {
                self.restart(now, id);
            } else if hold && offered {
                peer.offer_at = Some(now + self.config.hold_offers_for);
            } else {
                self.rebuild(now, id);
                offered = true;
            }
        }
    }

    /// The signaling socket closed; a `welcome` will say when it is back.
    pub fn handle_signaling_lost(&mut self) {
        self.signaling_up = false;
        // Their offers could not be sent: the next `welcome` decides again.
        for peer in self.peers.values_mut() {
            peer.offer_at = None;
        }
    }

    /// `peer` entered the room (perhaps again, with the same id): it offers to us.
    pub fn handle_peer_joined(&mut self, now: Duration, id: &PeerId) {
        let hold = now + self.config.rebuild_after;
        let peer = self.peers.or_default(id);
        peer.present = true;
        peer.away_since = None;
        peer.met(now);
        // Its offer is on the way: our own recovery would cross it.
        if let Some(link) = peer.link.as_mut() {
            if let Some((due, _)) = link.due.as_mut() {
                *due = (*due).max(hold);
            }
        }
    }

    /// The server says `peer` left the room.
    pub fn handle_peer_left(&mut self, now: Duration, id: &PeerId) {
        self.peer_out(now, id);
    }

    /// A signal from `peer` arrived through the server.
    pub fn handle_signal(&mut self, now: Duration, from: &PeerId, signal: Signal) {
        let Some(peer) = self.peers.get_mut(from) else {
            // A signal from someone the server never showed us; it is in the room.
            self.peers.or_default(from).present = true;
            return self.handle_signal(now, from, signal);
        };
        match signal {
            Signal::Offer { sdp } => self.on_offer(now, from, sdp),
            Signal::Answer { sdp } => {
                let session = sdp::session_id(&sdp).map(str::to_owned);
                if session.as_ref().is_some_and(|s| peer.retired.contains(s)) {
                    return;
                }
                let Some(link) = peer.link.as_mut() else {
                    return;
                };
                if link.remote_session.is_none() {
                    link.remote_session = session;
                }
                let link = link.id;
                self.outputs.push_back(Output::ApplySignal {
                    peer: from.clone(),
                    link,
                    signal: Signal::Answer { sdp },
                });
            }
            candidate @ Signal::Candidate { .. } => {
                if let Some(link) = peer.link.as_ref() {
                    self.outputs.push_back(Output::ApplySignal {
                        peer: from.clone(),
                        link: link.id,
                        signal: candidate,
                    });
                }
            }
            // Pairing by code, not link set-up: drivers hand it to their `Pairing`.
            Signal::Pake { .. } => {}
        }
    }

    /// The WebRTC stack reports the state of `link` to `peer`.
    pub fn handle_link_state(
        &mut self,
        now: Duration,
        id: &PeerId,
        link: LinkId,
        state: LinkState,
    ) {
        let config = self.config;
        let Some(peer) = self.peers.get_mut(id) else {
            return;
        };
        let Some(current) = peer.link.as_mut().filter(|l| l.id == link) else {
            return;
        };
        let before = current.state;
        current.state = state;
        match state {
            LinkState::Connecting => {}
            LinkState::Connected => {
                current.due = None;
                current.was_up = true;
                peer.away_since = None;
                peer.unreached_since = None;
                if !peer.up {
                    peer.up = true;
                    self.outputs.push_back(Output::LinkUp { peer: id.clone() });
                }
                self.offer_held(now, |_| true);
            }
            LinkState::Disconnected => {
                if before == LinkState::Connected {
                    current.due = Some(match current.role {
                        Role::Offerer => (now + config.restart_after, Step::Restart),
                        Role::Answerer => (now + config.answerer_takeover_after, Step::Rebuild),
                    });
                }
                self.link_down(id);
            }
            LinkState::Failed | LinkState::Closed => {
                let due = match current.role {
                    Role::Offerer => now,
                    Role::Answerer => now + config.answerer_takeover_after,
                };
                current.due = Some((current.due.map_or(due, |d| d.0.min(due)), Step::Rebuild));
                self.link_down(id);
            }
        }
        if matches!(state, LinkState::Failed | LinkState::Closed) && !self.peers[id].present {
            self.left(now, id);
        }
    }

    /// Take the recovery steps that are due.
    pub fn handle_timeout(&mut self, now: Duration) {
        let gone: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, peer)| {
                peer.away_since
                    .is_some_and(|since| since + self.config.gone_after <= now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.peers.remove(&id);
            self.outputs.push_back(Output::PeerGone { peer: id });
        }
        let no_path_after = self.config.no_path_after;
        for (id, peer) in self.peers.iter_mut() {
            let unreached = peer
                .unreached_since
                .filter(|since| *since + no_path_after <= now);
            if unreached.is_some() {
                peer.unreached_since = None;
                if self.signaling_up && peer.present && !peer.up {
                    self.outputs.push_back(Output::NoPath { peer: id.clone() });
                }
            }
        }
        self.offer_held(now, |at| at <= now);
        let due: Vec<(PeerId, Step)> = self
            .peers
            .iter()
            .filter_map(|(id, peer)| {
                let (at, step) = peer.link.as_ref()?.due?;
                (at <= now).then(|| (id.clone(), step))
            })
            .collect();
        for (id, step) in due {
            if !self.signaling_up || !self.peers[&id].present {
                // Nobody to send it to: the next `welcome` or `peer_joined` takes over.
                if let Some(link) = self.peers.get_mut(&id).and_then(|p| p.link.as_mut()) {
                    link.due = None;
                }
                continue;
            }
            match step {
                Step::Restart => self.restart(now, &id),
                Step::Rebuild => self.rebuild(now, &id),
            }
        }
    }

    fn on_offer(&mut self, now: Duration, from: &PeerId, sdp: String) {
        let session = sdp::session_id(&sdp).map(str::to_owned);
        let polite = self.me.as_ref().is_none_or(|me| me > from);
        let peer = self.peers.get_mut(from).expect("the caller made the peer");
        if session.as_ref().is_some_and(|s| peer.retired.contains(s)) {
            return;
        }
        if let Some(link) = peer.link.as_mut() {
            if session.is_some() && link.remote_session == session {
                // The same connection renegotiates: the peer restarts ICE.
                link.due = None;
                let link = link.id;
                self.outputs.push_back(Output::ApplySignal {
                    peer: from.clone(),
                    link,
                    signal: Signal::Offer { sdp },
                });
                return;
            }
            let ours_pending = link.role == Role::Offerer && link.remote_session.is_none();
            if ours_pending && !polite {
                // Crossed offers: the smaller id's wins, and that is ours.
                return;
            }
        }
        let rebuild = peer.link.is_some();
        let link = self.replace_link(now, from, Role::Answerer);
        let peer = self
            .peers
            .get_mut(from)
            .expect("replace_link keeps the peer");
        let current = peer.link.as_mut().expect("replace_link made it");
        current.remote_session = session;
        self.outputs.push_back(Output::AnswerOffer {
            peer: from.clone(),
            link,
            sdp,
            rebuild,
        });
    }

    /// Offer fresh ICE credentials on the current link, or a new link if there is none.
    fn restart(&mut self, now: Duration, id: &PeerId) {
        let rebuild_after = self.config.rebuild_after;
        let Some(link) = self.peers.get_mut(id).and_then(|p| p.link.as_mut()) else {
            return self.rebuild(now, id);
        };
        link.due = Some((now + rebuild_after, Step::Rebuild));
        let link = link.id;
        self.outputs.push_back(Output::RestartIce {
            peer: id.clone(),
            link,
        });
    }

    /// Make the held offers whose time `release` says has come.
    fn offer_held(&mut self, now: Duration, release: impl Fn(Duration) -> bool) {
        let released: Vec<PeerId> = self
            .peers
            .iter_mut()
            .filter(|(_, peer)| peer.offer_at.is_some_and(&release))
            .map(|(id, peer)| {
                peer.offer_at = None;
                id.clone()
            })
            .collect();
        for id in released {
            self.rebuild(now, &id);
        }
    }

    /// Replace the link to `id` with a new one that we offer.
    fn rebuild(&mut self, now: Duration, id: &PeerId) {
        let rebuild = self.peers.get(id).is_some_and(|peer| peer.link.is_some());
        let link = self.replace_link(now, id, Role::Offerer);
        self.outputs.push_back(Output::OpenLink {
            peer: id.clone(),
            link,
            rebuild,
        });
    }

    /// Close the current link to `id`, if any, and stand by a new one in `role`.
    fn replace_link(&mut self, now: Duration, id: &PeerId, role: Role) -> LinkId {
        self.drop_link(id);
        self.next_link += 1;
        let link = LinkId(self.next_link);
        let due = match role {
            Role::Offerer => Some((now + self.config.rebuild_after, Step::Rebuild)),
            Role::Answerer => None,
        };
        let peer = self.peers.or_default(id);
        peer.offer_at = None;
        peer.link = Some(Link {
            id: link,
            role,
            state: LinkState::Connecting,
            was_up: false,
            remote_session: None,
            due,
        });
        link
    }

    /// Close the current link to `id`, remembering its session.
    fn drop_link(&mut self, id: &PeerId) {
        let Some(old) = self.peers.get_mut(id).and_then(|p| p.link.take()) else {
            return;
        };
        self.outputs.push_back(Output::CloseLink {
            peer: id.clone(),
            link: old.id,
        });
        self.link_down(id);
        let peer = self.peers.get_mut(id).expect("the link was the peer's");
        if let Some(session) = old.remote_session {
            peer.retired.push_back(session);
            if peer.retired.len() > RETIRED_SESSIONS {
                peer.retired.pop_front();
            }
        }
    }

    fn link_down(&mut self, id: &PeerId) {
        if let Some(peer) = self.peers.get_mut(id).filter(|peer| peer.up) {
            peer.up = false;
            self.outputs
                .push_back(Output::LinkDown { peer: id.clone() });
        }
    }

    /// The server no longer has `id` in the room.
    fn peer_out(&mut self, now: Duration, id: &PeerId) {
        let Some(peer) = self.peers.get_mut(id) else {
            return;
        };
        peer.present = false;
        peer.unreached_since = None;
        peer.offer_at = None;
        // A link that was up and only lost its path may yet come back, or be restarted
        // once the peer is back in the room; one still being set up never will.
        let dead = peer.link.as_ref().is_none_or(|link| {
            !link.was_up || matches!(link.state, LinkState::Failed | LinkState::Closed)
        });
        if dead {
            self.left(now, id);
        }
    }

    /// `id` is out of the room without a working link: drop the link, report it once.
    fn left(&mut self, now: Duration, id: &PeerId) {
        self.drop_link(id);
        let peer = self.peers.get_mut(id).expect("only known peers leave");
        if peer.away_since.is_none() {
            peer.away_since = Some(now);
            self.outputs
                .push_back(Output::PeerLeft { peer: id.clone() });
        }
    }
}
