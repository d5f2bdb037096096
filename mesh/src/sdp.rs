//! What Meshdrop reads from an SDP: which peer connection wrote it, and the DTLS
//! fingerprint of the certificate it will use.
//!
//! An offer either renegotiates a connection the pair already has (an ICE restart) or
//! starts a new one, and the signal itself does not say which. The SDP does: its origin
//! line `o=<user> <session id> <version> ...` keeps the session id of the connection
//! that wrote it for that connection's whole life (RFC 8866 §5.2, RFC 9429 §5.2.1), and
//! a new connection picks a new one. Browsers and webrtc-rs both follow this.
//!
//! The fingerprint (`a=fingerprint:`, RFC 8122 §5) is the hash of the certificate the
//! writer will present in the DTLS handshake, and the handshake fails unless the
//! certificate matches it: so the fingerprints in a connection's local and remote
//! descriptions name the two devices at its ends, as each end really sees them.
//! Chromium and webrtc-rs write it in the media section, Firefox at the session level;
//! webrtc-rs writes its hex in lowercase, browsers in uppercase.

/// The session id of the origin line, or `None` if the SDP has none.
pub fn session_id(sdp: &str) -> Option<&str> {
    let origin = sdp.lines().find_map(|line| line.strip_prefix("o="))?;
    origin.split_whitespace().nth(1)
}

/// The DTLS fingerprint of the SDP's writer, normalized so that the same certificate
/// reads the same whoever wrote it: `sha-256 AB:CD:…` (lowercase algorithm, uppercase
/// hex pairs joined by colons). The session-level line wins, else the first media
/// section's; `None` if there is none or it is not a hash in hex.
pub fn fingerprint(sdp: &str) -> Option<String> {
    let line = sdp
        .lines()
        .take_while(|line| !line.starts_with("m="))
        .chain(sdp.lines().skip_while(|line| !line.starts_with("m=")))
        .find_map(|line| line.trim_end().strip_prefix("a=fingerprint:"))?;
    let (algorithm, value) = line.trim().split_once(' ')?;
    normalized_fingerprint(algorithm, value)
}

/// A fingerprint as [`fingerprint`] gives it, from its hash algorithm and its hex pairs
/// joined by colons, in either case; `None` if they are not that.
pub fn normalized_fingerprint(algorithm: &str, value: &str) -> Option<String> {
    let (algorithm, value) = (algorithm.trim(), value.trim());
    let hex_pair = |pair: &str| pair.len() == 2 && pair.bytes().all(|b| b.is_ascii_hexdigit());
    if algorithm.is_empty()
        || algorithm.contains(char::is_whitespace)
        || !value.split(':').all(hex_pair)
    {
        return None;
    }
    Some(format!(
        "{} {}",
        algorithm.to_ascii_lowercase(),
        value.to_ascii_uppercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::{fingerprint, session_id};

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

    /// Chromium's offer for a data channel: the fingerprint in the media section.
    const CHROMIUM: &str = "v=0\r\no=- 2926516746504740760 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:smDl\r\na=ice-pwd:MGog5TJZwfLJshIeQBMKmuEZ\r\na=ice-options:trickle\r\na=fingerprint:sha-256 95:14:18:41:82:C9:CB:04:29:F7:B9:EF:33:E6:80:7F:99:0D:89:39:22:6A:F9:1A:B1:AC:E6:44:D5:A3:20:B3\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";
    /// Firefox's: at the session level.
    const FIREFOX: &str = "v=0\r\no=mozilla...THIS_IS_SDPARTA-99.0 9172035312808116722 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 F7:E4:6D:E4:3B:C5:10:1A:D1:91:A4:24:56:DF:7A:19:E8:7A:ED:E3:5D:9C:12:ED:1D:D9:BE:CE:C5:32:17:F4\r\na=group:BUNDLE 0\r\na=ice-options:trickle\r\na=msid-semantic:WMS *\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=sendrecv\r\na=extmap-allow-mixed\r\na=ice-pwd:225d10bae94c61a1d01ece05d3607288\r\na=ice-ufrag:32059076\r\na=mid:0\r\na=setup:actpass\r\na=sctp-port:5000\r\na=max-message-size:1073741823\r\n";
    /// webrtc-rs 0.21's: at the session level too.
    const WEBRTC_RS: &str = "v=0\r\no=- 3929322038150295222 168684696 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 6C:52:BF:D3:77:4D:38:26:E8:BF:25:03:8A:7A:2F:01:49:25:FC:F2:AD:CF:4D:DA:05:29:50:3F:F0:FB:E8:FC\r\na=extmap-allow-mixed\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=sctp-port:5000\r\na=max-message-size:65536\r\na=ice-ufrag:dLITfJhHenFnbwTE\r\na=ice-pwd:EvPqdpYeGQHDVJcbVTHCeGSBBQdlXbYw\r\n";

    #[test]
    fn reads_the_fingerprint_wherever_each_writer_puts_it() {
        assert_eq!(
            fingerprint(CHROMIUM).as_deref(),
            Some("sha-256 95:14:18:41:82:C9:CB:04:29:F7:B9:EF:33:E6:80:7F:99:0D:89:39:22:6A:F9:1A:B1:AC:E6:44:D5:A3:20:B3")
        );
        assert_eq!(
            fingerprint(FIREFOX).as_deref(),
            Some("sha-256 F7:E4:6D:E4:3B:C5:10:1A:D1:91:A4:24:56:DF:7A:19:E8:7A:ED:E3:5D:9C:12:ED:1D:D9:BE:CE:C5:32:17:F4")
        );
        assert_eq!(
            fingerprint(WEBRTC_RS).as_deref(),
            Some("sha-256 6C:52:BF:D3:77:4D:38:26:E8:BF:25:03:8A:7A:2F:01:49:25:FC:F2:AD:CF:4D:DA:05:29:50:3F:F0:FB:E8:FC")
        );
    }

    #[test]
    fn the_same_certificate_reads_the_same_in_any_case_and_line_ending() {
        let shouted = WEBRTC_RS.replace("a=fingerprint:sha-256", "a=fingerprint:SHA-256");
        let quiet = WEBRTC_RS
            .replace("6C:52:BF", "6c:52:bf")
            .replace("\r\n", "\n");
        assert_eq!(fingerprint(&shouted), fingerprint(WEBRTC_RS));
        assert_eq!(fingerprint(&quiet), fingerprint(WEBRTC_RS));
    }

    #[test]
    fn the_session_level_line_wins_over_a_media_level_one() {
        let media = "a=fingerprint:sha-256 AA:BB\r\n";
        let both = FIREFOX.replace("a=mid:0\r\n", &format!("a=mid:0\r\n{media}"));
        assert_eq!(fingerprint(&both), fingerprint(FIREFOX));
        let two_sections = format!("{CHROMIUM}m=application 9 UDP/DTLS/SCTP x\r\n{media}");
        assert_eq!(fingerprint(&two_sections), fingerprint(CHROMIUM));
    }

    #[test]
    fn no_fingerprint_or_a_malformed_one_is_none() {
        assert_eq!(fingerprint("v=0\r\ns=-\r\n"), None);
        assert_eq!(fingerprint("a=fingerprint:sha-256\r\n"), None);
        assert_eq!(fingerprint("a=fingerprint:sha-256 AB:CG\r\n"), None);
        assert_eq!(fingerprint("a=fingerprint:sha-256 ABC:DE\r\n"), None);
        assert_eq!(fingerprint("a=fingerprint: AB:CD\r\n"), None);
    }
}
