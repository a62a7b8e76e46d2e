//! proto3 JSON helpers for serde: 64-bit integers travel as strings in proto3 JSON (a JSON
//! number cannot hold every i64 exactly), but readers accept numbers too.

/// `#[serde(with = "crate::json::int64")]` for `i64` fields.
pub mod int64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    /// Writes the integer as a decimal string.
    pub fn serialize<S: Serializer>(value: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    /// Reads a decimal string or a JSON integer.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Number(i64),
            Text(String),
        }
        match Repr::deserialize(deserializer)? {
            Repr::Number(n) => Ok(n),
            Repr::Text(s) => s
                .parse()
                .map_err(|_| D::Error::custom(format!("expected a 64-bit integer, found {s:?}"))),
        }
    }
}
