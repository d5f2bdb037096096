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

use js_sys::{Array, Function, Object, Promise, Reflect};
use meshdrop_mesh::sdp;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbRequest, IdbTransaction, IdbTransactionMode, RtcCertificate, RtcConfiguration,
    RtcPeerConnection,
};

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
    let database = open().await;
    let certificate = load_from(&database).await;
    // Closed at once: an open connection would hold up another tab's upgrade or the
    // profile's deletion of the database.
    if let Ok(database) = database {
        database.close();
    }
    certificate
}

async fn load_from(database: &Result<IdbDatabase, JsValue>) -> Option<RtcCertificate> {
    let kept = match database {
        Ok(database) => read(database).await,
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
    if let Ok(database) = database {
        if let Err(error) = write(database, &certificate).await {
            warn(&format!(
                "cannot keep this device's certificate ({}): it lasts this visit only",
                describe(&error)
            ));
        }
    }
    Some(certificate)
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

async fn open() -> Result<IdbDatabase, JsValue> {
    let factory = web_sys::window()
        .ok_or("no window")?
        .indexed_db()?
        .ok_or("no IndexedDB")?;
    let request = factory.open_with_u32(DATABASE, 1)?;
    // The first open of the database creates its store.
    let upgrade = Closure::<dyn FnMut()>::new({
        let request = request.clone();
        move || {
            if let Ok(database) = request.result() {
                let _ = database
                    .unchecked_into::<IdbDatabase>()
                    .create_object_store(STORE);
            }
        }
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let opened = succeeded(&request).await;
    request.set_onupgradeneeded(None);
    Ok(opened?.unchecked_into())
}

async fn read(database: &IdbDatabase) -> Result<Option<RtcCertificate>, JsValue> {
    let transaction = database.transaction_with_str(STORE)?;
    let request = transaction.object_store(STORE)?.get(&KEY.into())?;
    let value = succeeded(&request).await?;
    if value.is_undefined() {
        return Ok(None);
    }
    let certificate = value
        .dyn_into::<RtcCertificate>()
        .map_err(|_| "what is stored is not a certificate")?;
    Ok(Some(certificate))
}

async fn write(database: &IdbDatabase, certificate: &RtcCertificate) -> Result<(), JsValue> {
    let transaction =
        database.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)?;
    transaction
        .object_store(STORE)?
        .put_with_key(certificate, &KEY.into())?;
    committed(&transaction).await
}

/// The result of `request` once it succeeded, or its error.
async fn succeeded(request: &IdbRequest) -> Result<JsValue, JsValue> {
    let settled = Promise::new(&mut |resolve: Function, reject: Function| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    let outcome = JsFuture::from(settled).await;
    request.set_onsuccess(None);
    request.set_onerror(None);
    match outcome {
        Ok(_) => request.result(),
        Err(_) => Err(request.error()?.map_or("failed".into(), JsValue::from)),
    }
}

/// Waits until `transaction` is committed to disk, or fails with its error.
async fn committed(transaction: &IdbTransaction) -> Result<(), JsValue> {
    let settled = Promise::new(&mut |resolve: Function, reject: Function| {
        transaction.set_oncomplete(Some(&resolve));
        transaction.set_onerror(Some(&reject));
        transaction.set_onabort(Some(&reject));
    });
    match JsFuture::from(settled).await {
        Ok(_) => Ok(()),
        Err(_) => Err(transaction.error().map_or("aborted".into(), JsValue::from)),
    }
}

/// An error's message for the console: a `DOMException`'s, or the string itself.
fn describe(error: &JsValue) -> String {
    Reflect::get(error, &"message".into())
        .ok()
        .and_then(|message| message.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}

fn warn(message: &str) {
    web_sys::console::warn_1(&format!("Meshdrop: {message}").into());
}
