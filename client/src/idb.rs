//! The few IndexedDB calls the app makes: a database of one store, values by key.
//!
//! Each use has a database of its own (the device certificate, the chat history), so
//! that none has to follow another's schema version. A [`Store`] closes its database
//! when dropped: an open connection would hold up another tab's upgrade or the
//! profile's deletion of the database.

use js_sys::{Function, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbRequest, IdbTransaction, IdbTransactionMode};

/// One open database and its one store.
pub struct Store {
    database: IdbDatabase,
    name: &'static str,
}

impl Store {
    /// Opens `database`, creating it and its store `name` on first use.
    pub async fn open(database: &str, name: &'static str) -> Result<Self, JsValue> {
        let factory = web_sys::window()
            .ok_or("no window")?
            .indexed_db()?
            .ok_or("no IndexedDB")?;
        let request = factory.open_with_u32(database, 1)?;
        let upgrade = Closure::<dyn FnMut()>::new({
            let request = request.clone();
            move || {
                if let Ok(database) = request.result() {
                    let _ = database
                        .unchecked_into::<IdbDatabase>()
                        .create_object_store(name);
                }
            }
        });
        request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let opened = succeeded(&request).await;
        request.set_onupgradeneeded(None);
        Ok(Self {
            database: opened?.unchecked_into(),
            name,
        })
    }

    /// The value kept under `key`; `undefined` if none.
    pub async fn get(&self, key: &str) -> Result<JsValue, JsValue> {
        let transaction = self.database.transaction_with_str(self.name)?;
        let request = transaction.object_store(self.name)?.get(&key.into())?;
        succeeded(&request).await
    }

    /// Keeps `value` under `key`, once it is on disk.
    pub async fn put(&self, key: &str, value: &JsValue) -> Result<(), JsValue> {
        let transaction = self.writing()?;
        transaction
            .object_store(self.name)?
            .put_with_key(value, &key.into())?;
        committed(&transaction).await
    }

    fn writing(&self) -> Result<IdbTransaction, JsValue> {
        self.database
            .transaction_with_str_and_mode(self.name, IdbTransactionMode::Readwrite)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.database.close();
    }
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
pub fn describe(error: &JsValue) -> String {
    js_sys::Reflect::get(error, &"message".into())
        .ok()
        .and_then(|message| message.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}
