//! Getting a device into the room: the QR code the page draws decodes to the room link,
//! and "Copy link" puts that link on the clipboard. Real Chromium, the built app.

use image::imageops::FilterType;
use meshdrop_e2e::permissions::grant;
use meshdrop_e2e::{run_in, App, Browser, NetNs, Result, ServesApp, SignalingServer};

#[test]
fn the_qr_code_decodes_to_the_room_link() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let url = server.room_url("scan-me");
        let app = App::open(Browser::launch().await?, &url, "alice").await?;
        let png = app.room_qr_png().await?;
        assert_eq!(decode_qr(&png), url, "the QR code holds the page's URL");
        assert_eq!(app.room_link().await?, url, "the link field shows it too");
        Ok(())
    })
}

#[test]
fn copy_link_puts_the_room_link_on_the_clipboard() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let url = server.room_url("copy-me");
        let app = App::open(Browser::launch().await?, &url, "alice").await?;
        grant(app.browser(), "clipboard-read").await?;
        grant(app.browser(), "clipboard-write").await?;
        app.copy_link().await?;
        assert_eq!(app.clipboard_text().await?, url);
        Ok(())
    })
}

/// The text of the one QR code in `png`.
fn decode_qr(png: &[u8]) -> String {
    let image = image::load_from_memory(png)
        .expect("the screenshot is a PNG")
        .to_luma8();
    // The page draws a module in about 4 pixels; rqrr finds the code more reliably with
    // more, as a phone camera has.
    let (width, height) = image.dimensions();
    let image = image::imageops::resize(&image, width * 4, height * 4, FilterType::Nearest);
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the screenshot");
    let (_, text) = grids[0].decode().expect("the QR code decodes");
    text
}
