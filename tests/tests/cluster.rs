//! Several signaling servers sharing rooms through Redis (`--redis-url`), end to end:
//! real browsers on two hosts, two server processes and a real `redis-server`, and a
//! load balancer in front as nginx would be.
//!
//! Needs the web app in `dist/` and `target/debug/meshdrop-server` (`cargo xtask test`
//! builds both), and `redis-server`.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::redis::Redis;
use meshdrop_e2e::room::{connected_and_named, recoveries, send_and_accept, welcomed, Peer};
use meshdrop_e2e::server_process::{Build, ServerProcess};
use meshdrop_e2e::wait::{self, Probe};
use meshdrop_e2e::{
    run_in, App, Balancer, Browser, Launch, RawClient, Result, ServesApp, TestFile, TwoHosts,
    HOST_A,
};

const ROOM: &str = "cluster";
const FILE_SIZE: u64 = 4 << 20;
/// A dead node's presence lasts 5 s, and another node's heartbeat comes within 1 s.
const FREED_WITHIN: Duration = Duration::from_secs(15);

/// Alice reaches node 0 through one balancer, Bob node 1 through another (each fails
/// over to the other node): their browsers meet across the nodes and a file goes
/// through. Node 0 is killed: Alice's page comes back through node 1 under the same
/// id, her link to Bob stays up (no ICE restart, no new connection) and carries another
/// file, and Carol, a client of node 0 that does not come back, leaves both pages.
#[test]
fn a_killed_node_s_browsers_come_back_through_another_with_their_links_up() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let redis = Redis::start().await;
        let args = ["--redis-url", &redis.url, "--no-stun"];
        let nodes = [
            ServerProcess::start(Build::Debug, &args, &[]).await?,
            ServerProcess::start(Build::Debug, &args, &[]).await?,
        ];
        let [to_0, to_1] = [[0, 1], [1, 0]].map(|order| {
            let upstreams = order.map(|node: usize| nodes[node].address(Ipv4Addr::LOCALHOST));
            upstreams.to_vec()
        });
        let (front_0, front_1) = (Balancer::start(to_0).await?, Balancer::start(to_1).await?);

        let remote = Launch::on_host(&hosts.b).treat_as_secure(front_1.origin_at(HOST_A));
        let (local, remote) = tokio::try_join!(Browser::launch(), remote.start())?;
        let alice = App::open(local, &front_0.room_url(ROOM), "alice").await?;
        let bob = App::open(remote, &front_1.room_url_at(HOST_A, ROOM), "bob").await?;
        let peers = vec![welcomed(alice).await?, welcomed(bob).await?];
        let peers = connected_and_named(peers).await?;
        for (node, seated) in nodes.iter().zip([1, 1]) {
            assert_eq!(
                node.metric("meshdrop_peers")?,
                seated,
                "one page on each node"
            );
        }
        let dir = scratch_dir()?;
        let before = TestFile::random(dir.path(), "before.bin", FILE_SIZE)?;
        send_and_accept(&peers[0], &peers[1], &before).await?;

        let carol_url = nodes[0].websocket_url(Ipv4Addr::LOCALHOST);
        let mut carol = RawClient::join(&carol_url, ROOM, "carol", 0xc0).await;
        let welcome = carol.next_of("welcome").await;
        let carol_id = welcome["peer_id"].as_str().expect("a peer id").to_owned();
        for (app, _) in &peers {
            app.wait_for("Carol in the room", |s| {
                s.peers.iter().any(|peer| peer.id == carol_id).then_some(())
            })
            .await?;
        }
        let links_before = recoveries(&peers).await?;

        let [node_0, node_1] = nodes;
        drop(node_0); // SIGKILL: no close frames, no goodbyes.
        let killed = Instant::now();
        wait::until("Alice's page seated on node 1", FREED_WITHIN, || async {
            Ok(match node_1.metric("meshdrop_peers")? {
                2 => Probe::Ready(()),
                seated => Probe::NotYet(format!("node 1 seats {seated}")),
            })
        })
        .await?;
        let back = killed.elapsed();
        for (app, _) in &peers {
            app.wait_for("Carol gone", |s| {
                (!s.peers.iter().any(|peer| peer.id == carol_id)).then_some(())
            })
            .await?;
        }
        let freed = killed.elapsed();
        println!("node 0 killed: Alice's page back through node 1 after {back:?}, Carol freed after {freed:?}");

        for (app, id) in &peers {
            assert_eq!(&app.self_id().await?, id, "{} keeps its id", app.label());
        }
        assert_links_stayed(&peers, links_before).await?;
        let after = TestFile::random(dir.path(), "after.bin", FILE_SIZE)?;
        send_and_accept(&peers[0], &peers[1], &after).await?;
        assert_links_stayed(&peers, links_before).await?;
        drop(carol);
        Ok(())
    })
}

/// Both pages still show each other connected, over the links they had: no ICE
/// restart, no new connection since `before` (ICE restarts, rebuilt links).
async fn assert_links_stayed(peers: &[Peer], before: (u32, u32)) -> Result<()> {
    for (app, id) in peers {
        let snapshot = app.snapshot().await?;
        let other = peers.iter().find(|(_, other)| other != id).unwrap();
        let entry = snapshot.peers.iter().find(|entry| entry.id == other.1);
        assert_eq!(
            entry.map(|entry| entry.state.as_str()),
            Some("connected"),
            "{} shows {} connected: {snapshot:#?}",
            app.label(),
            other.0.label()
        );
    }
    assert_eq!(
        recoveries(peers).await?,
        before,
        "the links were not replaced"
    );
    Ok(())
}
