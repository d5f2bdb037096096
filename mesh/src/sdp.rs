//! The one thing the mesh reads from an SDP: which peer connection wrote it.
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

#[cfg(test)]
mod tests {
    use super::session_id;

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
