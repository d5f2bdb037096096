//! Where one message ends in a TCP stream to the relay (RFC 5766, section 11.5): STUN
//! messages and ChannelData follow each other without any other framing, and each
//! tells its own length in its first four bytes. Over TCP, ChannelData is padded to a
//! multiple of four bytes.

/// The length of the whole message that starts with `header`, padding included, or
/// `None` if it is neither STUN nor ChannelData (then the stream cannot be followed).
pub fn frame_length(header: [u8; 4]) -> Option<usize> {
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    match header[0] >> 6 {
        0b00 => Some(20 + length),
        0b01 => Some(4 + length.next_multiple_of(4)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stun_and_channel_data_tell_their_length() {
        // A Binding request with 8 bytes of attributes.
        assert_eq!(frame_length([0x00, 0x01, 0x00, 0x08]), Some(28));
        // ChannelData on 0x4000 with 5 bytes, padded to 8.
        assert_eq!(frame_length([0x40, 0x00, 0x00, 0x05]), Some(12));
        assert_eq!(frame_length([0x7f, 0xff, 0x00, 0x00]), Some(4));
        assert_eq!(frame_length([0x80, 0x00, 0x00, 0x00]), None);
        assert_eq!(frame_length([0xc0, 0x00, 0x00, 0x00]), None);
    }
}
