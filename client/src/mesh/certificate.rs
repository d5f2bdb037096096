//! This browser profile's device identity: one DTLS certificate, kept in IndexedDB and
//! given to every peer connection.
//!
//! A peer knows the device at the other end of a connection only by the fingerprint of
//! the certificate in its SDP, which the DTLS handshake holds it to. A browser makes a
//! new certificate for every `RTCPeerConnection` unless given one, so without a kept
//! one the same device would be a stranger on every visit and every reconnection, and
//! could never be recognised or verified. An `RTCCertificate` is structured-cloneable:
//! IndexedDB keeps the object itself, its private key never readable by the page.
//!
//! Browsers cap a certificate's life (Chromium and Firefox at a year); one near its end,
//! or one that cannot be loaded, is replaced by a new one, which peers see as a new
//! device: the console says so. Only the fingerprint is shown to anyone, read from an
//! SDP (`getFingerprints()` is missing in Firefox).

use js_sys::{Array, Object, Reflect};
use meshdrop_mesh::sdp;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{RtcCertificate, RtcConfiguration, RtcPeerConnection};

use crate::idb::{describe, Store};

/// A database of its own, so that its version never has to follow anyone else's.
const DATABASE: &str = "meshdrop-device";
const STORE: &str = "certificate";
const KEY: &str = "dtls";
const DAY_MS: f64 = 24.0 * 60.0 * 60.0 * 1000.0;
/// What is asked for; the browser gives at most what it allows.
const LIFETIME_MS: f64 = 365.0 * DAY_MS;
/// A certificate this close to its end is replaced, so none expires during a visit
/// (a connection given an expired one fails).
const RENEW_BEFORE_MS: f64 = DAY_MS;

/// This profile's certificate: the kept one, else a new one, kept from now on. `None`
/// only if the browser cannot make one; every connection then makes its own.
pub async fn load() -> Option<RtcCertificate> {
    load_from(&Store::open(DATABASE, STORE).await).await
}

async fn load_from(store: &Result<Store, JsValue>) -> Option<RtcCertificate> {
    let kept = match store {
        Ok(store) => read(store).await,
        Err(error) => Err(error.clone()),
    };
    match kept {
        Ok(Some(certificate)) if certificate.expires() > js_sys::Date::now() + RENEW_BEFORE_MS => {
            return Some(certificate)
        }
        Ok(Some(_)) => warn("this device's certificate expires: making a new one, so peers will see a new device"),
        Ok(None) => {}
        Err(error) => warn(&format!(
            "cannot load this device's certificate ({}): making a new one, so peers will see a new device",
            describe(&error)
        )),
    }
    let certificate = match generate().await {
        Ok(certificate) => certificate,
        Err(error) => {
            warn(&format!(
                "cannot make a certificate for this device ({}): each connection gets one of its own",
                describe(&error)
            ));
            return None;
        }
    };
    if let Ok(store) = store {
        if let Err(error) = store.put(KEY, &certificate).await {
            warn(&format!(
                "cannot keep this device's certificate ({}): it lasts this visit only",
                describe(&error)
            ));
        }
    }
    Some(certificate)
}

async fn read(store: &Store) -> Result<Option<RtcCertificate>, JsValue> {
    let value = store.get(KEY).await?;
    if value.is_undefined() {
        return Ok(None);
    }
    let certificate = value
        .dyn_into::<RtcCertificate>()
        .map_err(|_| "what is stored is not a certificate")?;
    Ok(Some(certificate))
}

/// The fingerprint peers see for `certificate`, `sha-256 AB:CD:…`: read from an offer
/// of a connection made for that alone, never connected, closed at once.
pub async fn fingerprint(certificate: &RtcCertificate) -> Result<String, JsValue> {
    let config = RtcConfiguration::new();
    config.set_certificates(&Array::of1(certificate));
    let connection = RtcPeerConnection::new_with_configuration(&config)?;
    // An offer without anything to negotiate has no media section, and Chromium writes
    // the fingerprint in the media section.
    connection.create_data_channel("fingerprint");
    let offer = JsFuture::from(connection.create_offer()).await;
    connection.close();
    let offer_sdp = Reflect::get(&offer?, &"sdp".into())?
        .as_string()
        .unwrap_or_default();
    sdp::fingerprint(&offer_sdp).ok_or_else(|| "no fingerprint in the offer".into())
}

/// A new ECDSA P-256 certificate, for as long as the browser allows.
async fn generate() -> Result<RtcCertificate, JsValue> {
    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"ECDSA".into())?;
    Reflect::set(&algorithm, &"namedCurve".into(), &"P-256".into())?;
    Reflect::set(&algorithm, &"expires".into(), &LIFETIME_MS.into())?;
    let generated = RtcPeerConnection::generate_certificate_with_object(&algorithm)?;
    Ok(JsFuture::from(generated).await?.unchecked_into())
}

fn warn(message: &str) {
    web_sys::console::warn_1(&format!("Meshdrop: {message}").into());
}
