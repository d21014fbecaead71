//! JSON as the browser parses it: `JSON.parse` does the parsing, and the protocol's
//! field decoder reads the result through [`Js`], so the app carries no JSON parser.

use js_sys::{Array, Reflect};
use protocol::decode::{DecodeError, FromJson, Json};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse` on a JavaScript string (a WebSocket frame's data), without copying
    /// it into the app's memory first.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn parse_value(text: &JsValue) -> Result<JsValue, JsValue>;
}

/// A value `JSON.parse` produced.
pub struct Js(JsValue);

impl Json for Js {
    fn member(&self, name: &str) -> Option<Self> {
        if !self.0.is_object() {
            return None;
        }
        let value = Reflect::get(&self.0, &JsValue::from_str(name)).ok()?;
        (!value.is_null() && !value.is_undefined()).then_some(Js(value))
    }

    fn string(&self) -> Option<String> {
        self.0.as_string()
    }

    fn number(&self) -> Option<f64> {
        self.0.as_f64()
    }

    fn boolean(&self) -> Option<bool> {
        self.0.as_bool()
    }

    fn items(&self) -> Option<Vec<Self>> {
        Array::is_array(&self.0).then(|| Array::from(&self.0).iter().map(Js).collect())
    }
}

/// Parses JSON text held by JavaScript (a string value) and decodes it as `T`.
pub fn decode_value<T: FromJson>(text: &JsValue) -> Result<T, DecodeError> {
    let value = parse_value(text).map_err(|_| DecodeError::from("not JSON text"))?;
    T::from_json(&Js(value))
}

/// Parses JSON text and decodes it as `T`.
pub fn decode<T: FromJson>(text: &str) -> Result<T, DecodeError> {
    decode_value(&JsValue::from_str(text))
}
