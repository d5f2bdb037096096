//! The NAT test network itself ([`NatNetwork`]), with plain UDP sockets and no browser:
//! each kind of NAT maps ports as it claims, and nothing reaches a host behind one
//! unless the host sent to it first.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use meshdrop_e2e::{run_in, NatKind, NatNetwork, NetNs, Result};

/// How long a datagram that should not arrive is waited for.
const SILENCE: Duration = Duration::from_secs(1);

/// Where a host's datagrams to two ports of the server came from, as the server saw them.
struct Mapping {
    to_first: SocketAddr,
    to_second: SocketAddr,
}

#[test]
fn an_endpoint_independent_nat_keeps_one_public_port_per_socket() -> Result<()> {
    let mapping = map_one_socket(NatKind::EndpointIndependent)?;
    assert_eq!(
        mapping.to_first, mapping.to_second,
        "one socket, one public address and port, whatever it talks to"
    );
    Ok(())
}

#[test]
fn a_symmetric_nat_gives_each_destination_another_public_port() -> Result<()> {
    let mapping = map_one_socket(NatKind::Symmetric)?;
    assert_eq!(mapping.to_first.ip(), mapping.to_second.ip());
    assert_ne!(
        mapping.to_first.port(),
        mapping.to_second.port(),
        "each destination gets a port of its own"
    );
    Ok(())
}

/// A host behind `kind` of NAT sends from one socket to two ports of the server; the
/// server answers from the first and the answer arrives. Then a third socket of the
/// server sends to the same public address and port, and another datagram goes
/// straight to the host's private address through the router: neither arrives.
fn map_one_socket(kind: NatKind) -> Result<Mapping> {
    let network = NatNetwork::create(&[(kind, 1)])?;
    let home = &network.homes[0];
    let host = udp_socket(&home.hosts[0].ns, Ipv4Addr::UNSPECIFIED)?;
    let first = udp_socket(&network.server, NatNetwork::SERVER)?;
    let second = udp_socket(&network.server, NatNetwork::SERVER)?;
    let stranger = udp_socket(&network.server, NatNetwork::SERVER)?;

    host.send_to(b"first", first.local_addr().unwrap()).unwrap();
    host.send_to(b"second", second.local_addr().unwrap())
        .unwrap();
    let to_first = received(&first, b"first").expect("the server hears the host");
    let to_second = received(&second, b"second").expect("the server hears the host");
    assert_eq!(
        to_first.ip(),
        home.public,
        "the host is seen at its router's public address"
    );

    first.send_to(b"reply", to_first).unwrap();
    assert_eq!(
        received(&host, b"reply"),
        Some(first.local_addr().unwrap()),
        "a reply gets in"
    );

    stranger.send_to(b"unsolicited", to_first).unwrap();
    let private = SocketAddr::from((home.hosts[0].address, host.local_addr().unwrap().port()));
    route(&network.server, home.hosts[0].address, home.public);
    stranger
        .send_to(b"to the private address", private)
        .unwrap();
    let mut buffer = [0; 64];
    match host.recv_from(&mut buffer) {
        Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        got => panic!("nothing unsolicited gets through the {kind:?} NAT, yet: {got:?}"),
    }
    Ok(Mapping {
        to_first,
        to_second,
    })
}

/// A UDP socket on a free port of `address` in `ns`. A socket stays in the namespace
/// it was made in, whichever thread uses it.
fn udp_socket(ns: &NetNs, address: Ipv4Addr) -> Result<UdpSocket> {
    let socket = run_in(ns, async move {
        Ok(UdpSocket::bind((address, 0)).expect("bind a UDP socket"))
    })?;
    socket.set_read_timeout(Some(SILENCE)).unwrap();
    Ok(socket)
}

/// The sender of the next datagram on `socket`, which must be `expected`; `None` if
/// nothing arrives within [`SILENCE`].
fn received(socket: &UdpSocket, expected: &[u8]) -> Option<SocketAddr> {
    let mut buffer = [0; 64];
    let (len, from) = socket.recv_from(&mut buffer).ok()?;
    assert_eq!(&buffer[..len], expected);
    Some(from)
}

/// Routes `destination` through `gateway` in `ns`, as a neighbour of the router on the
/// public network could.
fn route(ns: &NetNs, destination: Ipv4Addr, gateway: Ipv4Addr) {
    let status = Command::new("ip")
        .args(["-n", ns.name(), "route", "add"])
        .arg(destination.to_string())
        .arg("via")
        .arg(gateway.to_string())
        .status()
        .expect("run ip");
    assert!(status.success(), "route {destination} via {gateway}");
}
