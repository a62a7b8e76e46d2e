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

/// Reads `T` from proto3 JSON, accepting each message field under its JSON name
/// (`taskRunId`, what the types' serde names are) or its original proto name (`task_run_id`),
/// as the proto3 JSON spec requires of parsers. Only struct fields are renamed: the keys of
/// maps and of free-form values (`google.protobuf.Struct` such as `Ticket.raw`) are data and
/// arrive as written.
pub fn from_proto_json<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, serde_json::Error> {
    T::deserialize(proto_names::ProtoJson(value))
}

mod proto_names {
    use serde::de::{
        self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
    };
    use serde_json::{Error, Value};

    /// A JSON value whose structs accept original (snake_case) field names.
    pub(super) struct ProtoJson(pub(super) Value);

    /// `task_run_id` → `taskRunId`.
    fn lower_camel(name: &str) -> String {
        let mut out = String::with_capacity(name.len());
        let mut upper = false;
        for c in name.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }

    impl<'de> Deserializer<'de> for ProtoJson {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                Value::Array(items) => visitor.visit_seq(Seq(items.into_iter())),
                Value::Object(map) => visitor.visit_map(Map {
                    entries: map.into_iter(),
                    value: None,
                    fields: &[],
                }),
                other => other.deserialize_any(visitor),
            }
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            match self.0 {
                Value::Object(map) => visitor.visit_map(Map {
                    entries: map.into_iter(),
                    value: None,
                    fields,
                }),
                other => other.deserialize_struct(name, fields, visitor),
            }
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                Value::Null => visitor.visit_none(),
                other => visitor.visit_some(ProtoJson(other)),
            }
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            visitor: V,
        ) -> Result<V::Value, Error> {
            visitor.visit_newtype_struct(self)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            // proto3 enums are strings: nothing inside to rename.
            self.0.deserialize_enum(name, variants, visitor)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            unit unit_struct seq tuple tuple_struct map identifier ignored_any
        }
    }

    struct Seq(std::vec::IntoIter<Value>);

    impl<'de> SeqAccess<'de> for Seq {
        type Error = Error;

        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, Error> {
            self.0
                .next()
                .map(|value| seed.deserialize(ProtoJson(value)))
                .transpose()
        }

        fn size_hint(&self) -> Option<usize> {
            Some(self.0.len())
        }
    }

    struct Map {
        entries: serde_json::map::IntoIter,
        value: Option<Value>,
        /// The struct's field names; empty for a map or a free-form object.
        fields: &'static [&'static str],
    }

    impl<'de> MapAccess<'de> for Map {
        type Error = Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Error> {
            let Some((key, value)) = self.entries.next() else {
                return Ok(None);
            };
            self.value = Some(value);
            let key = if key.contains('_') && !self.fields.contains(&key.as_str()) {
                let camel = lower_camel(&key);
                if self.fields.contains(&camel.as_str()) {
                    camel
                } else {
                    key
                }
            } else {
                key
            };
            seed.deserialize(IntoDeserializer::<Error>::into_deserializer(key))
                .map(Some)
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
            let value = self
                .value
                .take()
                .ok_or_else(|| de::Error::custom("a map value was asked for before its key"))?;
            seed.deserialize(ProtoJson(value))
        }

        fn size_hint(&self) -> Option<usize> {
            Some(self.entries.len())
        }
    }

    #[cfg(test)]
    mod tests {
        use crate::notifications::NotifyCompleteRequest;

        #[test]
        fn original_field_names_are_read_but_map_and_struct_keys_are_kept() {
            let request: NotifyCompleteRequest = super::super::from_proto_json(serde_json::json!({
                "task_run_id": "run-1",
                "ticket": {
                    "id": "T-1",
                    "repo_url": "https://git.example/a",
                    "raw": { "snake_key": 1, "camelKey": { "inner_key": true } }
                },
                "result": { "success": true, "tokenUsage": { "input_tokens": "7" } }
            }))
            .unwrap();
            assert_eq!(request.task_run_id, "run-1");
            let ticket = request.ticket.unwrap();
            assert_eq!(ticket.repo_url, "https://git.example/a");
            let raw = serde_json::Value::Object(ticket.raw.unwrap());
            assert_eq!(
                raw,
                serde_json::json!({ "snake_key": 1, "camelKey": { "inner_key": true } })
            );
            let result = request.result.unwrap();
            assert!(result.success);
            assert_eq!(result.token_usage.unwrap().input_tokens, 7);

            // Unknown fields are still refused, under either spelling.
            let err = super::super::from_proto_json::<NotifyCompleteRequest>(
                serde_json::json!({ "task_run": "x" }),
            )
            .unwrap_err();
            assert!(
                err.to_string().contains("unknown field `task_run`"),
                "{err}"
            );
            // Both spellings of one field are a duplicate.
            let err = super::super::from_proto_json::<NotifyCompleteRequest>(
                serde_json::json!({ "task_run_id": "a", "taskRunId": "b" }),
            )
            .unwrap_err();
            assert!(err.to_string().contains("duplicate field"), "{err}");
        }
    }
}
