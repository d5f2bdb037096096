//! The things `meshdrop` does, one module each (`seed` is `send` that never stops). Each joins the room through
//! [`crate::room::Room`] and decides what to do with what happens there.

pub mod chat;
pub mod receive;
pub mod send;

use std::path::PathBuf;
use std::time::Duration;

use meshdrop_verify::PairingCode;

use crate::certificate::DeviceCertificate;
use crate::cli::{friendly_name, Common};
use crate::error::Result;
use crate::mesh::JoinConfig;
use crate::room::Room;
use crate::verification::VerifyOptions;

/// Who this device is: its certificate, and the directory it and the verified devices
/// are kept in.
pub struct Device {
    pub certificate: DeviceCertificate,
    pub config_dir: PathBuf,
}

/// Joins the room of `common`, or with a `code` its meeting place, where the room lets
/// in only the device that proves the code; received files go to `download_dir`.
async fn join(
    common: &Common,
    device: Device,
    code: Option<PairingCode>,
    download_dir: Option<PathBuf>,
) -> Result<Room> {
    let grace = Duration::from_secs(common.grace);
    let config = JoinConfig {
        device: device.certificate,
        server_url: common.server.clone(),
        room: match &code {
            Some(code) => Some(code.meeting_place()),
            None => common.room.clone(),
        },
        name: common.name.clone().unwrap_or_else(friendly_name),
        ice_servers: common.ice_servers.clone(),
        gone_after: grace,
    };
    let verify = VerifyOptions {
        code,
        require_verified: common.require_verified,
        remember: common.remember,
        config_dir: device.config_dir,
    };
    Room::join(config, download_dir, grace, verify).await
}
