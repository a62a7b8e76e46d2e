//! Conversions between the generated protobuf messages ([`crate::pb::rd`]) and the core types
//! of `robodev_core`, one submodule per interface, plus the shared records (`Ticket`,
//! `TaskResult`, `TokenUsage`, the handshake), `google.protobuf.Struct` ↔ JSON, and the mapping
//! of core errors to gRPC statuses.
//!
//! Core → pb is always `From`: every core value has a proto encoding. pb → core is `From` where
//! every proto value is a valid core value, and `TryFrom` with a `String` error where it is not:
//! a `Struct` holding NaN or ±infinity (not JSON), an enum number the interface version does
//! not define. The error starts with the path of the offending field, relative to the message
//! converted, e.g. `tickets[2].raw.labels[0]: number NaN is not valid JSON`.
//!
//! Conversions spell out every field of both sides (struct literals and destructuring, never
//! `..`), so a field added to a proto message or a core type fails to compile here until it is
//! mapped.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use robodev_core::{
    Error, ErrorCode, Failure, Interface, PluginInfo, TaskResult, Ticket, TokenUsage,
};
use serde_json::{Map, Number};
use tonic::{Code, Status};

use crate::pb::rd as pb;

mod approval;
mod engine;
mod notifications;
mod review;
mod scm;
mod secrets;
mod ticketing;

#[cfg(test)]
mod tests;

/// The largest message either side of a connection encodes or decodes: 64 MiB. gRPC's default
/// decoding limit (4 MiB) is too small for a large diff (`GetDiff`, `ReviewDiff`) or a poll that
/// returns many tickets with their raw tracker data.
pub(crate) const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Implements `From` both ways between a proto message and a core type whose fields are all
/// scalars, strings or repeated strings (the same Rust type on both sides).
macro_rules! plain {
    ($($pb:ident <=> $core:ident { $($field:ident),* $(,)? })*) => {$(
        impl From<$core> for pb::$pb {
            fn from(v: $core) -> Self {
                pb::$pb { $($field: v.$field),* }
            }
        }

        impl From<pb::$pb> for $core {
            fn from(v: pb::$pb) -> Self {
                $core { $($field: v.$field),* }
            }
        }
    )*};
}
pub(crate) use plain;

/// Implements `From` both ways between empty proto responses and [`robodev_core::Empty`].
macro_rules! empty {
    ($($pb:ident),* $(,)?) => {$(
        impl From<robodev_core::Empty> for pb::$pb {
            fn from(_: robodev_core::Empty) -> Self {
                pb::$pb {}
            }
        }

        impl From<pb::$pb> for robodev_core::Empty {
            fn from(_: pb::$pb) -> Self {
                robodev_core::Empty {}
            }
        }
    )*};
}
pub(crate) use empty;

/// Converts an optional nested message, prefixing an error with the field's name.
pub(crate) fn try_opt<P, C>(field: &str, value: Option<P>) -> Result<Option<C>, String>
where
    C: TryFrom<P, Error = String>,
{
    value
        .map(|v| C::try_from(v).map_err(|e| format!("{field}.{e}")))
        .transpose()
}

/// Converts a repeated nested message, prefixing an error with the field's name and index.
pub(crate) fn try_each<P, C>(field: &str, values: Vec<P>) -> Result<Vec<C>, String>
where
    C: TryFrom<P, Error = String>,
{
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| C::try_from(v).map_err(|e| format!("{field}[{i}].{e}")))
        .collect()
}

/// Converts every element of a list with `From`.
pub(crate) fn each<P, C: From<P>>(values: Vec<P>) -> Vec<C> {
    values.into_iter().map(C::from).collect()
}

/// Reads an enum field: `P` is the generated enum, `C` the core one. A number `P` does not
/// define is an error naming the field, the enum and the number.
pub(crate) fn enum_field<P, C>(field: &str, value: i32) -> Result<C, String>
where
    P: TryFrom<i32>,
    C: From<P>,
{
    P::try_from(value).map(C::from).map_err(|_| {
        format!(
            "{field}: {value} is not a known {} value",
            short_type_name::<P>()
        )
    })
}

/// The last segment of a type's path, e.g. `PullRequestState`.
pub(crate) fn short_type_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    name.rsplit("::").next().unwrap_or(name)
}

// ---- google.protobuf.Struct <-> JSON ----------------------------------------------------------

/// A JSON object as a `google.protobuf.Struct`. Numbers become doubles (integers beyond ±2^53
/// lose precision, as they do in any proto3 `Struct`).
pub(crate) fn json_to_struct(map: Map<String, serde_json::Value>) -> Struct {
    Struct {
        fields: map
            .into_iter()
            .map(|(k, v)| (k, json_to_value(v)))
            .collect(),
    }
}

/// A JSON value as a `google.protobuf.Value`.
pub(crate) fn json_to_value(value: serde_json::Value) -> Value {
    use serde_json::Value as J;
    let kind = match value {
        J::Null => Kind::NullValue(prost_types::NullValue::NullValue.into()),
        J::Bool(b) => Kind::BoolValue(b),
        J::Number(n) => match n.as_f64() {
            Some(x) => Kind::NumberValue(x),
            // Only with serde_json's arbitrary_precision, for a number beyond f64's range:
            // keep its digits rather than send a non-finite double.
            None => Kind::StringValue(n.to_string()),
        },
        J::String(s) => Kind::StringValue(s),
        J::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(json_to_value).collect(),
        }),
        J::Object(map) => Kind::StructValue(json_to_struct(map)),
    };
    Value { kind: Some(kind) }
}

/// A `google.protobuf.Struct` as a JSON object; `field` is the path of the struct in errors
/// (`raw` gives `raw.a.b[1]: number NaN is not valid JSON`).
pub(crate) fn struct_to_json(
    value: Struct,
    field: &str,
) -> Result<Map<String, serde_json::Value>, String> {
    struct_fields(value).map_err(|e| format!("{field}{e}"))
}

// The two below return errors whose path is relative to the value (`.key`, `[3]`, or empty),
// built while unwinding, so a valid struct costs no path strings.

fn struct_fields(value: Struct) -> Result<Map<String, serde_json::Value>, String> {
    value
        .fields
        .into_iter()
        .map(|(k, v)| match value_json(v) {
            Ok(json) => Ok((k, json)),
            Err(e) => Err(format!("{}{e}", key_segment(&k))),
        })
        .collect()
}

fn value_json(value: Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match value.kind {
        None | Some(Kind::NullValue(_)) => J::Null,
        Some(Kind::BoolValue(b)) => J::Bool(b),
        Some(Kind::NumberValue(x)) => J::Number(number(x)?),
        Some(Kind::StringValue(s)) => J::String(s),
        Some(Kind::ListValue(list)) => J::Array(
            list.values
                .into_iter()
                .enumerate()
                .map(|(i, v)| value_json(v).map_err(|e| format!("[{i}]{e}")))
                .collect::<Result<_, _>>()?,
        ),
        Some(Kind::StructValue(s)) => J::Object(struct_fields(s)?),
    })
}

/// A double as a JSON number: an integral value within ±2^53 (where every integer is exact)
/// becomes a JSON integer, so `3` stays `3` rather than `3.0`.
fn number(x: f64) -> Result<Number, String> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if x.fract() == 0.0 && x.abs() < EXACT {
        // Exact: the value is integral and within ±2^53.
        Ok(Number::from(x as i64))
    } else {
        Number::from_f64(x).ok_or_else(|| format!(": number {x} is not valid JSON"))
    }
}

/// `.key` for a plain key, `["a key"]` otherwise.
fn key_segment(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!(".{key}")
    } else {
        format!("[{key:?}]")
    }
}

// ---- common.proto -----------------------------------------------------------------------------

/// The `interface_version` of a handshake for this host's version of `interface`.
pub(crate) fn interface_version(interface: Interface) -> i32 {
    i32::try_from(interface.version()).unwrap_or(i32::MAX)
}

/// The handshake request the host sends a plugin of `interface`.
pub(crate) fn handshake_request(interface: Interface) -> pb::HandshakeRequest {
    pb::HandshakeRequest {
        interface_version: interface_version(interface),
    }
}

/// The handshake answer of a served backend of `interface`.
pub(crate) fn handshake_response(interface: Interface, info: PluginInfo) -> pb::HandshakeResponse {
    let PluginInfo { name, version } = info;
    pb::HandshakeResponse {
        interface_version: interface_version(interface),
        plugin_name: name,
        plugin_version: version,
    }
}

impl From<pb::HandshakeResponse> for PluginInfo {
    fn from(r: pb::HandshakeResponse) -> Self {
        let pb::HandshakeResponse {
            interface_version: _,
            plugin_name,
            plugin_version,
        } = r;
        PluginInfo {
            name: plugin_name,
            version: plugin_version,
        }
    }
}

impl From<Ticket> for pb::Ticket {
    fn from(t: Ticket) -> Self {
        let Ticket {
            id,
            title,
            description,
            ticket_type,
            labels,
            repo_url,
            external_url,
            raw,
        } = t;
        pb::Ticket {
            id,
            title,
            description,
            ticket_type,
            labels,
            repo_url,
            external_url,
            raw: raw.map(json_to_struct),
        }
    }
}

impl TryFrom<pb::Ticket> for Ticket {
    type Error = String;

    fn try_from(t: pb::Ticket) -> Result<Self, String> {
        let pb::Ticket {
            id,
            title,
            description,
            ticket_type,
            labels,
            repo_url,
            external_url,
            raw,
        } = t;
        Ok(Ticket {
            id,
            title,
            description,
            ticket_type,
            labels,
            repo_url,
            external_url,
            raw: raw.map(|s| struct_to_json(s, "raw")).transpose()?,
        })
    }
}

plain! {
    TokenUsage <=> TokenUsage { input_tokens, output_tokens }
}

impl From<TaskResult> for pb::TaskResult {
    fn from(r: TaskResult) -> Self {
        let TaskResult {
            success,
            merge_request_url,
            branch_name,
            summary,
            token_usage,
            cost_estimate_usd,
            exit_code,
        } = r;
        pb::TaskResult {
            success,
            merge_request_url,
            branch_name,
            summary,
            token_usage: token_usage.map(Into::into),
            cost_estimate_usd,
            exit_code,
        }
    }
}

impl From<pb::TaskResult> for TaskResult {
    fn from(r: pb::TaskResult) -> Self {
        let pb::TaskResult {
            success,
            merge_request_url,
            branch_name,
            summary,
            token_usage,
            cost_estimate_usd,
            exit_code,
        } = r;
        TaskResult {
            success,
            merge_request_url,
            branch_name,
            summary,
            token_usage: token_usage.map(Into::into),
            cost_estimate_usd,
            exit_code,
        }
    }
}

// ---- errors -----------------------------------------------------------------------------------

/// The gRPC status a served backend's error travels as: a domain error keeps its code and
/// message; invalid input is INVALID_ARGUMENT; a failure of what the backend itself calls is
/// UNAVAILABLE (DEADLINE_EXCEEDED for a deadline); anything else is INTERNAL. All but the
/// domain error carry the error's full text.
pub(crate) fn error_to_status(error: &Error) -> Status {
    match error {
        Error::Plugin { error, .. } => Status::new(
            Code::from_i32(error.code.grpc_code()),
            error.message.clone(),
        ),
        Error::InvalidInput { .. } => Status::invalid_argument(error.to_string()),
        Error::Failed {
            failure: Failure::DeadlineExceeded { .. },
            ..
        } => Status::deadline_exceeded(error.to_string()),
        Error::Failed { .. } => Status::unavailable(error.to_string()),
        _ => Status::internal(error.to_string()),
    }
}

/// The core error code of a gRPC status code; `None` for OK.
pub(crate) fn code_from_status(code: Code) -> Option<ErrorCode> {
    ErrorCode::from_grpc(code as i32)
}
