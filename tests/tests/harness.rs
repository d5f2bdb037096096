//! The harness itself works: namespaces, chromedriver, Chromium and ICE, with no Meshdrop
//! code involved. If these fail, every other end-to-end test would fail for the same reason.

use std::time::Duration;

use meshdrop_e2e::{baseline, run_in, Browser, Launch, NetNs, Result, TwoHosts};

const TRANSFER_BYTES: u64 = 4 * 1024 * 1024;
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn raw_data_channel_delivers_every_byte_in_one_namespace() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let (sender, receiver) = tokio::try_join!(Browser::launch(), Browser::launch())?;
        assert_delivered(&sender, &receiver).await
    })
}

#[test]
fn raw_data_channel_delivers_every_byte_between_two_hosts() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let (sender, receiver) =
            tokio::try_join!(Browser::launch(), Launch::on_host(&hosts.b).start())?;
        assert_delivered(&sender, &receiver).await
    })
}

/// Sends [`TRANSFER_BYTES`] over a bare data channel and checks every byte arrived, in
/// order.
async fn assert_delivered(sender: &Browser, receiver: &Browser) -> Result<()> {
    let (sent, received) = baseline::transfer(
        sender,
        receiver,
        TRANSFER_BYTES,
        baseline::MESSAGE_BYTES,
        TRANSFER_TIMEOUT,
    )
    .await?;
    assert_eq!(sent.bytes, TRANSFER_BYTES, "the sender sent everything");
    assert_eq!(
        received.bytes, TRANSFER_BYTES,
        "the receiver got every byte"
    );
    assert_eq!(received.out_of_order, 0, "messages arrived in order");
    assert_eq!(
        received.messages,
        TRANSFER_BYTES / u64::from(baseline::MESSAGE_BYTES)
    );
    Ok(())
}
