//! What the apps read from an SDP: which peer connection wrote it, and the DTLS
//! certificate fingerprint it announces.
//!
//! An offer either renegotiates a connection the pair already has (an ICE restart) or
//! starts a new one, and the signal itself does not say which. The SDP does: its origin
//! line `o=<user> <session id> <version> ...` keeps the session id of the connection
//! that wrote it for that connection's whole life (RFC 8866 §5.2, RFC 9429 §5.2.1), and
//! a new connection picks a new one. Browsers and webrtc-rs both follow this.

/// The session id of the origin line, or `None` if the SDP has none.
pub fn session_id(sdp: &str) -> Option<&str> {
    let origin = sdp.lines().find_map(|line| line.strip_prefix("o="))?;
    origin.split_whitespace().nth(1)
}

/// The DTLS certificate fingerprint an SDP announces (`a=fingerprint:sha-256 ab:cd:…`,
/// at session or media level), normalized to `sha-256 AB:CD:…` so that the same
/// certificate reads the same from every browser and from webrtc-rs.
pub fn fingerprint(sdp: &str) -> Option<String> {
    let value = sdp
        .lines()
        .find_map(|line| line.trim().strip_prefix("a=fingerprint:"))?;
    let (algorithm, hex) = value.trim().split_once(' ')?;
    Some(format!(
        "{} {}",
        algorithm.to_ascii_lowercase(),
        hex.trim().to_ascii_uppercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::{fingerprint, session_id};

    #[test]
    fn reads_the_fingerprint_normalized() {
        let chromium = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=fingerprint:sha-256 0A:1b:FF\r\n";
        assert_eq!(fingerprint(chromium).as_deref(), Some("sha-256 0A:1B:FF"));
        let firefox = "v=0\r\na=fingerprint:SHA-256 0a:1b:ff\r\n";
        assert_eq!(fingerprint(firefox).as_deref(), Some("sha-256 0A:1B:FF"));
        assert_eq!(fingerprint("v=0\r\ns=-\r\n"), None);
        assert_eq!(fingerprint("a=fingerprint:sha-256\r\n"), None);
    }

    #[test]
    fn reads_the_session_id_of_the_origin_line() {
        let sdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\n";
        assert_eq!(session_id(sdp), Some("4611731400430051336"));
    }

    #[test]
    fn an_sdp_without_origin_has_no_session() {
        assert_eq!(session_id("v=0\r\ns=-\r\n"), None);
        assert_eq!(session_id("v=0\r\no=-\r\n"), None);
        assert_eq!(session_id(""), None);
    }
}
