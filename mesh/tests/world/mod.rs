//! An in-memory room for driving [`Mesh`] cores: a fake signaling server, fake peer
//! connections, wires that can be cut, and a clock that only moves when told.
//!
//! The fake WebRTC keeps what matters to the rules: a connection has an SDP session and
//! an ICE generation; two connections carry data when each applied the other's latest
//! description, their generations agree and the wire between their peers is up. A
//! connection that lost its path is `disconnected`, and `failed` after [`ICE_FAILS_AFTER`],
//! as in browsers; when the wire comes back before that, it recovers by itself.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use meshdrop_mesh::{sdp, Config, LinkId, LinkState, Mesh, Output};
use meshdrop_protocol::signaling::Signal;
use meshdrop_protocol::PeerId;

pub const TICK: Duration = Duration::from_millis(100);
pub const ICE_FAILS_AFTER: Duration = Duration::from_secs(30);

pub fn id(name: &str) -> PeerId {
    PeerId::new(name).unwrap()
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

enum Message {
    Welcome(Vec<PeerId>),
    Joined(PeerId),
    Left(PeerId),
    Signal(PeerId, Signal),
}

struct Connection {
    peer: PeerId,
    session: String,
    generation: u32,
    /// The peer's session and generation, from its latest description.
    remote: Option<(String, u32)>,
    state: LinkState,
    /// Since when it lacks a path, once it had one.
    lost_since: Option<Duration>,
    opened_at: Duration,
    /// The peer closed its end, and it could tell us.
    closed_by_peer: bool,
}

pub struct Node {
    pub core: Mesh,
    online: bool,
    connections: BTreeMap<LinkId, Connection>,
    /// Everything the core said, with the time.
    pub log: Vec<(Duration, Output)>,
}

#[derive(Default)]
pub struct World {
    pub now: Duration,
    pub nodes: BTreeMap<PeerId, Node>,
    /// Who the server has in the room, in joining order.
    room: Vec<PeerId>,
    pub server_up: bool,
    cut: BTreeSet<(PeerId, PeerId)>,
    inbox: VecDeque<(PeerId, Message)>,
    next_session: u64,
}

fn pair(a: &PeerId, b: &PeerId) -> (PeerId, PeerId) {
    if a < b {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    }
}

fn description(session: &str, generation: u32) -> String {
    format!("v=0\r\no=- {session} {generation} IN IP4 0.0.0.0\r\na=ice-ufrag:g{generation}\r\n")
}

fn generation_of(sdp: &str) -> u32 {
    let ufrag = sdp
        .lines()
        .find_map(|line| line.strip_prefix("a=ice-ufrag:g"))
        .unwrap();
    ufrag.parse().unwrap()
}

impl World {
    pub fn new() -> Self {
        Self {
            server_up: true,
            ..Self::default()
        }
    }

    /// A page opens and joins the room.
    pub fn join(&mut self, name: &str) {
        let peer = id(name);
        self.nodes.insert(
            peer.clone(),
            Node {
                core: Mesh::new(Config::default()),
                online: false,
                connections: BTreeMap::new(),
                log: Vec::new(),
            },
        );
        self.connect_signaling(&peer);
        self.settle();
    }

    fn connect_signaling(&mut self, peer: &PeerId) {
        if !self.server_up {
            return;
        }
        let others: Vec<PeerId> = self.room.iter().filter(|p| *p != peer).cloned().collect();
        for other in &others {
            self.inbox
                .push_back((other.clone(), Message::Joined(peer.clone())));
        }
        self.inbox
            .push_front((peer.clone(), Message::Welcome(others)));
        self.room.push(peer.clone());
        self.nodes.get_mut(peer).unwrap().online = true;
    }

    /// The page closes: its connections close, the server says it left.
    pub fn close(&mut self, name: &str) {
        self.close_noticed_after(name, Duration::ZERO);
    }

    /// The page closes, and the server notices only `delay` later.
    pub fn close_noticed_after(&mut self, name: &str, delay: Duration) {
        let peer = id(name);
        let node = self.nodes.remove(&peer).unwrap();
        for (_, connection) in node.connections {
            self.remote_closed(&peer, &connection);
        }
        self.run_for(delay);
        self.leave_room(&peer);
        self.settle();
    }

    fn leave_room(&mut self, peer: &PeerId) {
        self.room.retain(|p| p != peer);
        for other in self.room.clone() {
            self.inbox.push_back((other, Message::Left(peer.clone())));
        }
    }

    /// The closing of `connection` (at `from`) reaches the peer's end, if it can.
    fn remote_closed(&mut self, from: &PeerId, connection: &Connection) {
        if self.cut.contains(&pair(from, &connection.peer)) {
            return;
        }
        let Some(node) = self.nodes.get_mut(&connection.peer) else {
            return;
        };
        for their in node.connections.values_mut() {
            if their.peer == *from
                && their.remote.as_ref().map(|r| &r.0) == Some(&connection.session)
            {
                their.closed_by_peer = true;
            }
        }
    }

    pub fn cut(&mut self, a: &str, b: &str) {
        self.cut.insert(pair(&id(a), &id(b)));
    }

    pub fn mend(&mut self, a: &str, b: &str) {
        self.cut.remove(&pair(&id(a), &id(b)));
    }

    pub fn stop_server(&mut self) {
        self.server_up = false;
        self.room.clear();
        self.inbox.clear();
        for node in self.nodes.values_mut() {
            node.online = false;
            node.core.handle_signaling_lost();
        }
    }

    /// The server is back; the peers come back one after the other, `gap` apart, in
    /// name order.
    pub fn start_server(&mut self, gap: Duration) {
        self.server_up = true;
        let names: Vec<PeerId> = self.nodes.keys().cloned().collect();
        for peer in names {
            self.connect_signaling(&peer);
            self.run_for(gap);
        }
    }

    pub fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            self.now += TICK;
            self.settle();
        }
    }

    /// Everything that happens without time passing.
    fn settle(&mut self) {
        for _ in 0..1000 {
            let mut busy = false;
            while let Some((to, message)) = self.inbox.pop_front() {
                busy = true;
                self.deliver(&to, message);
            }
            let names: Vec<PeerId> = self.nodes.keys().cloned().collect();
            for peer in &names {
                busy |= self.step_connections(peer);
                let now = self.now;
                let node = self.nodes.get_mut(peer).unwrap();
                if node.core.poll_timeout().is_some_and(|due| due <= now) {
                    node.core.handle_timeout(now);
                }
                busy |= self.drain(peer);
            }
            if !busy {
                return;
            }
        }
        panic!("the world never settles");
    }

    fn deliver(&mut self, to: &PeerId, message: Message) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(to).filter(|node| node.online) else {
            return;
        };
        match message {
            Message::Welcome(peers) => node.core.handle_welcome(now, to.clone(), &peers),
            Message::Joined(peer) => node.core.handle_peer_joined(now, &peer),
            Message::Left(peer) => node.core.handle_peer_left(now, &peer),
            Message::Signal(from, signal) => node.core.handle_signal(now, &from, signal),
        }
    }

    fn send_signal(&mut self, from: &PeerId, to: &PeerId, signal: Signal) {
        let online = self.nodes[from].online;
        if self.server_up && online && self.room.contains(to) {
            self.inbox
                .push_back((to.clone(), Message::Signal(from.clone(), signal)));
        }
    }

    /// Work out each connection's state and tell the core of changes.
    fn step_connections(&mut self, peer: &PeerId) -> bool {
        let now = self.now;
        let mut changes = Vec::new();
        let links: Vec<LinkId> = self.nodes[peer].connections.keys().copied().collect();
        for link in links {
            let connection = &self.nodes[peer].connections[&link];
            let carried = self.carries(peer, connection);
            let connection = self
                .nodes
                .get_mut(peer)
                .unwrap()
                .connections
                .get_mut(&link)
                .unwrap();
            let state = match connection.state {
                LinkState::Closed | LinkState::Failed => connection.state,
                _ if connection.closed_by_peer => LinkState::Closed,
                _ if carried => {
                    connection.lost_since = None;
                    LinkState::Connected
                }
                LinkState::Connecting if now - connection.opened_at >= ICE_FAILS_AFTER => {
                    LinkState::Failed
                }
                LinkState::Connecting => LinkState::Connecting,
                _ => {
                    let since = *connection.lost_since.get_or_insert(now);
                    if now - since >= ICE_FAILS_AFTER {
                        LinkState::Failed
                    } else {
                        LinkState::Disconnected
                    }
                }
            };
            if state != connection.state {
                connection.state = state;
                changes.push((link, state, connection.peer.clone()));
            }
        }
        // A closed connection is reported once, then forgotten.
        let node = self.nodes.get_mut(peer).unwrap();
        node.connections
            .retain(|_, connection| connection.state != LinkState::Closed);
        let busy = !changes.is_empty();
        for (link, state, to) in changes {
            node.core.handle_link_state(now, &to, link, state);
        }
        busy
    }

    /// Whether `connection` at `peer` carries data now.
    fn carries(&self, peer: &PeerId, connection: &Connection) -> bool {
        if self.cut.contains(&pair(peer, &connection.peer)) {
            return false;
        }
        let Some((session, generation)) = &connection.remote else {
            return false;
        };
        let Some(other) = self.nodes.get(&connection.peer) else {
            return false;
        };
        other.connections.values().any(|their| {
            their.session == *session
                && their.generation == *generation
                && *generation == connection.generation
                && their.remote == Some((connection.session.clone(), connection.generation))
                && their.state != LinkState::Closed
        })
    }

    /// Carry out what the core of `peer` asks; true if it asked anything.
    fn drain(&mut self, peer: &PeerId) -> bool {
        let mut busy = false;
        loop {
            let now = self.now;
            let node = self.nodes.get_mut(peer).unwrap();
            let Some(output) = node.core.poll_output() else {
                return busy;
            };
            busy = true;
            node.log.push((now, output.clone()));
            match output {
                Output::OpenLink { peer: to, link, .. } => {
                    let session = self.new_connection(peer, &to, link, None);
                    self.send_signal(
                        peer,
                        &to,
                        Signal::Offer {
                            sdp: description(&session, 0),
                        },
                    );
                }
                Output::AnswerOffer {
                    peer: to,
                    link,
                    sdp,
                    ..
                } => {
                    let generation = generation_of(&sdp);
                    let remote = (sdp::session_id(&sdp).unwrap().to_owned(), generation);
                    let session = self.new_connection(peer, &to, link, Some(remote));
                    self.send_signal(
                        peer,
                        &to,
                        Signal::Answer {
                            sdp: description(&session, generation),
                        },
                    );
                }
                Output::ApplySignal {
                    peer: to,
                    link,
                    signal,
                } => {
                    let node = self.nodes.get_mut(peer).unwrap();
                    let connection = node.connections.get_mut(&link).expect("a live link");
                    match signal {
                        Signal::Offer { sdp } => {
                            let generation = generation_of(&sdp);
                            connection.remote =
                                Some((sdp::session_id(&sdp).unwrap().to_owned(), generation));
                            connection.generation = generation;
                            let answer = description(&connection.session, generation);
                            self.send_signal(peer, &to, Signal::Answer { sdp: answer });
                        }
                        Signal::Answer { sdp } => {
                            connection.remote = Some((
                                sdp::session_id(&sdp).unwrap().to_owned(),
                                generation_of(&sdp),
                            ));
                        }
                        Signal::Candidate { .. } => {}
                        Signal::Pake { .. } => panic!("the rules passed a PAKE message to a link"),
                    }
                }
                Output::RestartIce { peer: to, link } => {
                    let node = self.nodes.get_mut(peer).unwrap();
                    let connection = node.connections.get_mut(&link).expect("a live link");
                    connection.generation += 1;
                    let offer = description(&connection.session, connection.generation);
                    self.send_signal(peer, &to, Signal::Offer { sdp: offer });
                }
                Output::CloseLink { link, .. } => {
                    let node = self.nodes.get_mut(peer).unwrap();
                    if let Some(connection) = node.connections.remove(&link) {
                        self.remote_closed(peer, &connection);
                    }
                }
                Output::LinkUp { .. }
                | Output::LinkDown { .. }
                | Output::PeerLeft { .. }
                | Output::PeerGone { .. }
                | Output::NoPath { .. } => {}
            }
        }
    }

    fn new_connection(
        &mut self,
        at: &PeerId,
        to: &PeerId,
        link: LinkId,
        remote: Option<(String, u32)>,
    ) -> String {
        self.next_session += 1;
        let session = format!("{}", 1000 + self.next_session);
        let now = self.now;
        let node = self.nodes.get_mut(at).unwrap();
        let generation = remote.as_ref().map_or(0, |r| r.1);
        node.connections.insert(
            link,
            Connection {
                peer: to.clone(),
                session: session.clone(),
                generation,
                remote,
                state: LinkState::Connecting,
                lost_since: None,
                opened_at: now,
                closed_by_peer: false,
            },
        );
        session
    }

    /// What `name`'s core said, without the time.
    pub fn outputs(&self, name: &str) -> Vec<Output> {
        self.nodes[&id(name)]
            .log
            .iter()
            .map(|(_, output)| output.clone())
            .collect()
    }

    /// How many of `name`'s outputs match.
    pub fn count(&self, name: &str, matches: impl Fn(&Output) -> bool) -> usize {
        self.outputs(name).iter().filter(|o| matches(o)).count()
    }

    /// When `name` last reported the link to `to` up, if its last word on it was that.
    pub fn up_since(&self, name: &str, to: &str) -> Option<Duration> {
        let to = id(to);
        let last = self.nodes[&id(name)].log.iter().rev().find(|(_, output)| {
            matches!(output, Output::LinkUp { peer } | Output::LinkDown { peer }
                | Output::PeerLeft { peer } | Output::PeerGone { peer } if *peer == to)
        })?;
        matches!(last.1, Output::LinkUp { .. }).then_some(last.0)
    }

    /// Whether `a` and `b` each stand by one connection, and it is the other's.
    pub fn linked(&self, a: &str, b: &str) -> bool {
        let (a, b) = (id(a), id(b));
        let (Some(la), Some(lb)) = (
            self.nodes[&a].core.current_link(&b),
            self.nodes[&b].core.current_link(&a),
        ) else {
            return false;
        };
        let ca = &self.nodes[&a].connections[&la];
        let cb = &self.nodes[&b].connections[&lb];
        self.carries(&a, ca) && self.carries(&b, cb)
    }

    /// Connections `name` holds, open or not.
    pub fn connections(&self, name: &str) -> usize {
        self.nodes[&id(name)].connections.len()
    }

    pub fn clear_logs(&mut self) {
        for node in self.nodes.values_mut() {
            node.log.clear();
        }
    }
}
