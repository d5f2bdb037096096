//! The three things `meshdrop` does, one module each. Each joins the room through
//! [`crate::room::Room`] and decides what to do with what happens there.

pub mod chat;
pub mod receive;
pub mod send;

use crate::certificate::DeviceCertificate;
use crate::cli::{friendly_name, Common};
use crate::mesh::JoinConfig;

fn join_config(common: &Common, device: DeviceCertificate) -> JoinConfig {
    JoinConfig {
        device,
        server_url: common.server.clone(),
        room: common.room.clone(),
        name: common.name.clone().unwrap_or_else(friendly_name),
        ice_servers: common.ice_servers.clone(),
        gone_after: std::time::Duration::from_secs(common.grace),
    }
}
