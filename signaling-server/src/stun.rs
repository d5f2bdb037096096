//! A built-in STUN server (RFC 5389, Binding only), so a self-hosted Meshdrop needs no
//! third-party STUN server: a browser behind NAT asks it which public address its
//! packets come from and offers that as a server-reflexive ICE candidate.
//!
//! Answers, by what arrives:
//!
//! * a Binding request: success with XOR-MAPPED-ADDRESS, plus the older MAPPED-ADDRESS;
//! * a classic RFC 3489 Binding request (no magic cookie): success with MAPPED-ADDRESS
//!   only and the client's 16-byte transaction id echoed, as RFC 5389 section 12.2 asks;
//! * a Binding request with a comprehension-required attribute this server does not
//!   know (such as RFC 5780's CHANGE-REQUEST): 420 Unknown Attribute, listing them;
//! * a request of any other method: 400 Bad Request;
//! * anything else (responses, indications, datagrams that are not STUN): nothing.
//!
//! There is no authentication and no relaying; relaying is TURN's job (see
//! `docs/self-hosting.md` for coturn).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

const HEADER_LEN: usize = 20;
const MAGIC_COOKIE: u32 = 0x2112_A442;
const TRANSACTION_ID_LEN: usize = 12;
/// The magic cookie and the transaction id: all of a classic request's 16-byte id.
const ID_LEN: usize = 4 + TRANSACTION_ID_LEN;

const BINDING: u16 = 0x001;

const CLASS_REQUEST: u16 = 0b00;
const CLASS_SUCCESS: u16 = 0b10;
const CLASS_ERROR: u16 = 0b11;

const MAPPED_ADDRESS: u16 = 0x0001;
const ERROR_CODE: u16 = 0x0009;
const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;

/// The comprehension-required attributes of RFC 5389 (types below 0x8000). Any other
/// type in that range makes a request fail with 420; types from 0x8000 on are optional
/// and ignored.
const KNOWN_REQUIRED_ATTRIBUTES: [u16; 8] = [
    MAPPED_ADDRESS,
    0x0006, // USERNAME
    0x0008, // MESSAGE-INTEGRITY
    ERROR_CODE,
    UNKNOWN_ATTRIBUTES,
    0x0014, // REALM
    0x0015, // NONCE
    XOR_MAPPED_ADDRESS,
];

/// Larger than any STUN request a client sends; longer datagrams are truncated, fail
/// the length check and are ignored.
const MAX_DATAGRAM: usize = 2048;

/// Why a datagram gets no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    #[error("shorter than a STUN header")]
    TooShort,
    #[error("not STUN: wrong leading bits, or no magic cookie and not a classic Binding request")]
    NotStun,
    #[error("the length field does not match the datagram")]
    BadLength,
    #[error("an attribute runs past the end of the message")]
    TruncatedAttribute,
    #[error("a STUN response or indication, not a request")]
    NotARequest,
}

/// Answer STUN requests on `socket` until `shutdown` is cancelled.
pub async fn serve(socket: UdpSocket, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    let mut buffer = [0u8; MAX_DATAGRAM];
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => return,
            received = socket.recv_from(&mut buffer) => received,
        };
        let (length, source) = match received {
            Ok(received) => received,
            Err(error) => {
                tracing::debug!(%error, "STUN receive failed");
                continue;
            }
        };
        match answer(&buffer[..length], source) {
            Ok(reply) => {
                metrics.stun_request_answered();
                if let Err(error) = socket.send_to(&reply, source).await {
                    tracing::debug!(%error, %source, "STUN reply not sent");
                }
            }
            Err(ignored) => tracing::trace!(%source, %ignored, "STUN datagram ignored"),
        }
    }
}

/// The reply to `datagram` from `source`, or why there is none.
pub fn answer(datagram: &[u8], source: SocketAddr) -> Result<Vec<u8>, Ignored> {
    let request = Request::parse(datagram)?;
    let reply = if request.classic && request.unknown_required.is_empty() {
        let mut reply = Reply::new(message_type(BINDING, CLASS_SUCCESS), request.id);
        let source = SocketAddr::new(source.ip().to_canonical(), source.port());
        reply.attribute(MAPPED_ADDRESS, &plain_address(source));
        reply.finish()
    } else if request.method != BINDING {
        request.error(400, "Bad Request").finish()
    } else if !request.unknown_required.is_empty() {
        let mut reply = request.error(420, "Unknown Attribute");
        let unknown: Vec<u8> = request
            .unknown_required
            .iter()
            .flat_map(|kind| kind.to_be_bytes())
            .collect();
        reply.attribute(UNKNOWN_ATTRIBUTES, &unknown);
        reply.finish()
    } else {
        let mut reply = Reply::new(message_type(BINDING, CLASS_SUCCESS), request.id);
        let source = SocketAddr::new(source.ip().to_canonical(), source.port());
        reply.attribute(XOR_MAPPED_ADDRESS, &xor_address(source, &request.id));
        reply.attribute(MAPPED_ADDRESS, &plain_address(source));
        reply.finish()
    };
    Ok(reply)
}

/// What this server needs to know of a request.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    method: u16,
    /// The magic cookie and transaction id, or a classic request's 16-byte id.
    id: [u8; ID_LEN],
    /// From an RFC 3489 client: no magic cookie.
    classic: bool,
    unknown_required: Vec<u16>,
}

impl Request {
    fn parse(datagram: &[u8]) -> Result<Self, Ignored> {
        let header = datagram.get(..HEADER_LEN).ok_or(Ignored::TooShort)?;
        let kind = u16::from_be_bytes([header[0], header[1]]);
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let cookie = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        // RFC 3489 had no magic cookie; of its messages, only Binding requests are
        // answered.
        let classic = cookie != MAGIC_COOKIE;
        if kind & 0xC000 != 0 || (classic && kind != message_type(BINDING, CLASS_REQUEST)) {
            return Err(Ignored::NotStun);
        }
        if length % 4 != 0 || HEADER_LEN + length != datagram.len() {
            return Err(Ignored::BadLength);
        }
        let (method, class) = split_message_type(kind);
        if class != CLASS_REQUEST {
            return Err(Ignored::NotARequest);
        }
        let mut id = [0; ID_LEN];
        id.copy_from_slice(&header[4..]);
        Ok(Self {
            method,
            id,
            classic,
            unknown_required: unknown_required_attributes(&datagram[HEADER_LEN..])?,
        })
    }

    fn error(&self, code: u16, reason: &str) -> Reply {
        let mut reply = Reply::new(message_type(self.method, CLASS_ERROR), self.id);
        let mut value = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
        value.extend_from_slice(reason.as_bytes());
        reply.attribute(ERROR_CODE, &value);
        reply
    }
}

/// The comprehension-required attribute types in `attributes` that this server does
/// not know, checking that every attribute fits.
fn unknown_required_attributes(mut attributes: &[u8]) -> Result<Vec<u16>, Ignored> {
    let mut unknown = Vec::new();
    while !attributes.is_empty() {
        let [k0, k1, l0, l1, ref rest @ ..] = *attributes else {
            return Err(Ignored::TruncatedAttribute);
        };
        let kind = u16::from_be_bytes([k0, k1]);
        let padded = usize::from(u16::from_be_bytes([l0, l1])).next_multiple_of(4);
        attributes = rest.get(padded..).ok_or(Ignored::TruncatedAttribute)?;
        if kind < 0x8000 && !KNOWN_REQUIRED_ATTRIBUTES.contains(&kind) {
            unknown.push(kind);
        }
    }
    Ok(unknown)
}

/// A STUN message being written; [`Reply::finish`] fills in its length.
struct Reply {
    bytes: Vec<u8>,
}

impl Reply {
    /// `id` is the magic cookie and transaction id (or a classic request's id).
    fn new(kind: u16, id: [u8; ID_LEN]) -> Self {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(&kind.to_be_bytes());
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(&id);
        Self { bytes }
    }

    fn attribute(&mut self, kind: u16, value: &[u8]) {
        // Every value written here is a few dozen bytes.
        let length = u16::try_from(value.len()).unwrap_or(u16::MAX);
        self.bytes.extend_from_slice(&kind.to_be_bytes());
        self.bytes.extend_from_slice(&length.to_be_bytes());
        self.bytes.extend_from_slice(value);
        let padding = value.len().next_multiple_of(4) - value.len();
        self.bytes.extend(std::iter::repeat_n(0, padding));
    }

    fn finish(mut self) -> Vec<u8> {
        let length = u16::try_from(self.bytes.len() - HEADER_LEN).unwrap_or(u16::MAX);
        self.bytes[2..4].copy_from_slice(&length.to_be_bytes());
        self.bytes
    }
}

/// Method and class interleaved into the 14-bit message type (RFC 5389, section 6).
fn message_type(method: u16, class: u16) -> u16 {
    (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((class & 0b01) << 4)
        | ((class & 0b10) << 7)
}

fn split_message_type(kind: u16) -> (u16, u16) {
    let method = (kind & 0x000F) | ((kind >> 1) & 0x0070) | ((kind >> 2) & 0x0F80);
    let class = ((kind >> 4) & 0b01) | ((kind >> 7) & 0b10);
    (method, class)
}

/// MAPPED-ADDRESS: family, port and address as they are.
fn plain_address(address: SocketAddr) -> Vec<u8> {
    let mut value = vec![0, family(address.ip())];
    value.extend_from_slice(&address.port().to_be_bytes());
    match address.ip() {
        IpAddr::V4(ip) => value.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => value.extend_from_slice(&ip.octets()),
    }
    value
}

/// XOR-MAPPED-ADDRESS: port and address XORed with the magic cookie (and, for IPv6,
/// the transaction id), so NATs that rewrite addresses in payloads leave it alone.
/// `id` is the magic cookie followed by the transaction id.
fn xor_address(address: SocketAddr, id: &[u8; ID_LEN]) -> Vec<u8> {
    let mut value = plain_address(address);
    let (port, ip) = value[2..].split_at_mut(2);
    for (byte, mask) in port.iter_mut().zip(id) {
        *byte ^= mask;
    }
    for (byte, mask) in ip.iter_mut().zip(id) {
        *byte ^= mask;
    }
    value
}

fn family(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 0x01,
        IpAddr::V6(_) => 0x02,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transaction id of the RFC 5769 sample messages.
    const TRANSACTION_ID: [u8; 12] = [
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd5, 0xe8, 0x7f, 0x3e, 0x6d, 0x98,
    ];

    /// The magic cookie followed by [`TRANSACTION_ID`].
    fn id() -> [u8; ID_LEN] {
        let mut id = [0; ID_LEN];
        id[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        id[4..].copy_from_slice(&TRANSACTION_ID);
        id
    }

    fn request(kind: u16, attributes: &[u8]) -> Vec<u8> {
        let mut request = Reply::new(kind, id());
        request.bytes.extend_from_slice(attributes);
        request.finish()
    }

    fn binding_request(attributes: &[u8]) -> Vec<u8> {
        request(message_type(BINDING, CLASS_REQUEST), attributes)
    }

    fn source() -> SocketAddr {
        "192.0.2.1:32853".parse().unwrap()
    }

    /// The attributes of `message` as (type, value) pairs.
    fn attributes(message: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let mut rest = &message[HEADER_LEN..];
        let mut found = Vec::new();
        while let [k0, k1, l0, l1, ref tail @ ..] = *rest {
            let length = usize::from(u16::from_be_bytes([l0, l1]));
            found.push((u16::from_be_bytes([k0, k1]), tail[..length].to_vec()));
            rest = &tail[length.next_multiple_of(4)..];
        }
        found
    }

    #[test]
    fn message_types_match_the_rfc() {
        assert_eq!(message_type(BINDING, CLASS_REQUEST), 0x0001);
        assert_eq!(message_type(BINDING, CLASS_SUCCESS), 0x0101);
        assert_eq!(message_type(BINDING, CLASS_ERROR), 0x0111);
        assert_eq!(split_message_type(0x0111), (BINDING, CLASS_ERROR));
        assert_eq!(message_type(0x0FFF, 0b10), 0x3FEF);
        assert_eq!(split_message_type(0x3FEF), (0x0FFF, 0b10));
    }

    #[test]
    fn the_xor_address_matches_the_rfc_5769_sample() {
        // RFC 5769 2.2: 192.0.2.1 port 32853 with the transaction id above. (IPv6 is
        // checked against a third-party decoder over a real socket in tests/stun.rs.)
        assert_eq!(
            xor_address(source(), &id()),
            [0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]
        );
    }

    #[test]
    fn a_binding_request_gets_both_mapped_addresses() {
        let reply = answer(&binding_request(&[]), source()).unwrap();
        assert_eq!(&reply[..2], &[0x01, 0x01]);
        assert_eq!(
            usize::from(u16::from_be_bytes([reply[2], reply[3]])),
            reply.len() - HEADER_LEN
        );
        assert_eq!(&reply[4..8], &MAGIC_COOKIE.to_be_bytes());
        assert_eq!(&reply[8..HEADER_LEN], &TRANSACTION_ID);
        assert_eq!(
            attributes(&reply),
            [
                (XOR_MAPPED_ADDRESS, xor_address(source(), &id())),
                (MAPPED_ADDRESS, vec![0, 1, 0x80, 0x55, 192, 0, 2, 1]),
            ]
        );
    }

    #[test]
    fn an_ipv4_mapped_source_is_answered_as_ipv4() {
        let mapped = "[::ffff:192.0.2.1]:32853".parse().unwrap();
        assert_eq!(
            answer(&binding_request(&[]), mapped),
            answer(&binding_request(&[]), source())
        );
    }

    #[test]
    fn optional_and_known_attributes_are_accepted() {
        // SOFTWARE (0x8022, optional) with a 3-byte value and its padding, then USERNAME.
        let attributes = [
            0x80, 0x22, 0, 3, b'a', b'b', b'c', 0, 0x00, 0x06, 0, 4, 1, 2, 3, 4,
        ];
        let reply = answer(&binding_request(&attributes), source()).unwrap();
        assert_eq!(&reply[..2], &[0x01, 0x01]);
    }

    #[test]
    fn unknown_required_attributes_get_420_listing_them() {
        // CHANGE-REQUEST (0x0003), as NAT-type probes send it.
        let reply = answer(&binding_request(&[0x00, 0x03, 0, 4, 0, 0, 0, 6]), source()).unwrap();
        assert_eq!(&reply[..2], &[0x01, 0x11]);
        assert_eq!(
            attributes(&reply),
            [
                (
                    ERROR_CODE,
                    [&[0, 0, 4, 20][..], b"Unknown Attribute"].concat()
                ),
                (UNKNOWN_ATTRIBUTES, vec![0x00, 0x03]),
            ]
        );
    }

    #[test]
    fn other_methods_get_400() {
        let allocate = message_type(0x003, CLASS_REQUEST);
        let reply = answer(&request(allocate, &[]), source()).unwrap();
        assert_eq!(
            u16::from_be_bytes([reply[0], reply[1]]),
            message_type(0x003, CLASS_ERROR)
        );
        assert_eq!(attributes(&reply)[0].1[2..4], [4, 0]);
    }

    #[test]
    fn a_classic_binding_request_gets_its_id_back_and_a_mapped_address() {
        // RFC 3489: 16 random bytes where RFC 5389 has the cookie and transaction id.
        let classic_id: [u8; ID_LEN] = std::array::from_fn(|n| n as u8 * 7 + 1);
        let request = Reply::new(0x0001, classic_id).finish();
        let reply = answer(&request, source()).unwrap();
        assert_eq!(u16::from_be_bytes([reply[0], reply[1]]), 0x0101);
        assert_eq!(&reply[4..HEADER_LEN], &classic_id);
        assert_eq!(
            attributes(&reply),
            [(MAPPED_ADDRESS, plain_address(source()))],
            "no XOR-MAPPED-ADDRESS, which classic clients do not know"
        );
        // CHANGE-REQUEST, which this server cannot honour, is refused with 420.
        let mut changing = Reply::new(0x0001, classic_id);
        changing.attribute(0x0003, &[0, 0, 0, 6]);
        let reply = answer(&changing.finish(), source()).unwrap();
        assert_eq!(
            u16::from_be_bytes([reply[0], reply[1]]),
            message_type(BINDING, CLASS_ERROR)
        );
    }

    #[test]
    fn junk_is_ignored() {
        let valid = binding_request(&[]);
        assert_eq!(answer(&valid[..19], source()), Err(Ignored::TooShort));
        assert_eq!(
            answer(b"GET / HTTP/1.1\r\n\r\nxx", source()),
            Err(Ignored::NotStun)
        );
        // Without the magic cookie, only a classic Binding request is STUN.
        let mut classic_indication = request(0x0011, &[]);
        classic_indication[4] ^= 1;
        assert_eq!(answer(&classic_indication, source()), Err(Ignored::NotStun));
        let mut longer = valid.clone();
        longer.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(answer(&longer, source()), Err(Ignored::BadLength));
        let truncated = binding_request(&[0x80, 0x22, 0, 8, 1, 2, 3, 4]);
        assert_eq!(
            answer(&truncated, source()),
            Err(Ignored::TruncatedAttribute)
        );
        let success = request(message_type(BINDING, CLASS_SUCCESS), &[]);
        assert_eq!(answer(&success, source()), Err(Ignored::NotARequest));
    }

    #[test]
    fn no_datagram_makes_it_panic() {
        // Every length up to a few headers, every byte value at every position of a
        // binding request: answer or ignore, never panic.
        let valid = binding_request(&[0x80, 0x22, 0, 4, 1, 2, 3, 4]);
        for length in 0..valid.len() {
            let _ = answer(&valid[..length], source());
        }
        for position in 0..valid.len() {
            for byte in 0..=u8::MAX {
                let mut mutated = valid.clone();
                mutated[position] = byte;
                let _ = answer(&mutated, source());
            }
        }
    }
}
