//! The server's built-in STUN responder, as a browser uses it: the server names it in
//! `welcome`, and Chromium gathers a server-reflexive candidate through it.

use meshdrop_e2e::{run_in, Launch, NetNs, Result, ServesApp, SignalingServer, HOST_A};
use meshdrop_protocol::PROTOCOL_VERSION;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Gathered {
    ice_servers: Vec<IceServer>,
    candidates: Vec<String>,
    metrics: String,
}

#[derive(Debug, Deserialize)]
struct IceServer {
    urls: Vec<String>,
}

#[test]
fn a_browser_gathers_a_server_reflexive_candidate_from_the_built_in_stun() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start_with_stun().await?;
        // Loaded from the host's veth address, so the server names that address for STUN.
        let browser = Launch::local()
            .hide_local_ips()
            .treat_as_secure(server.origin_at(HOST_A))
            .start()
            .await?;
        browser.goto(&server.origin_at(HOST_A)).await?;
        let gathered: Gathered = browser
            .run(
                "candidates gathered through the built-in STUN server",
                include_str!("../js/stun_gather.js"),
                vec![PROTOCOL_VERSION.into()],
            )
            .await?;

        let stun_prefix = format!("stun:{HOST_A}:");
        assert!(
            gathered
                .ice_servers
                .iter()
                .flat_map(|server| &server.urls)
                .any(|url| url.starts_with(&stun_prefix)),
            "welcome names the built-in STUN server at {HOST_A}: {:?}",
            gathered.ice_servers
        );
        let reflexive = format!(" {HOST_A} ");
        assert!(
            gathered
                .candidates
                .iter()
                .any(|candidate| candidate.contains("typ srflx") && candidate.contains(&reflexive)),
            "a server-reflexive candidate with address {HOST_A}: {:?}",
            gathered.candidates
        );
        let requests: u64 = gathered
            .metrics
            .lines()
            .find_map(|line| line.strip_prefix("meshdrop_stun_requests_total "))
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or(0);
        assert!(
            requests >= 1,
            "/metrics counts the STUN requests: {}",
            gathered.metrics
        );
        server.stop().await
    })
}
