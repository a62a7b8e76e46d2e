//! Entry points for the fuzzers (`fuzz/`, and the corpus replay in `host/fuzz`): what a plugin
//! process sends robodev, parsed as robodev parses it. Each takes any bytes and panics only on
//! a bug: a broken invariant, never an input robodev must refuse.

use prost::Message;

use crate::handshake;
use crate::pb::rd as pb;

/// A plugin's handshake line: parsed without panicking, and a line robodev accepts formats
/// back to one that parses to the same.
pub fn handshake_line(data: &[u8]) {
    let line = String::from_utf8_lossy(data);
    for app_version in [1, 2] {
        if let Ok(parsed) = handshake::parse(&line, app_version) {
            let again = handshake::format(app_version, &parsed.address, parsed.cert.as_deref());
            assert_eq!(
                handshake::parse(&again, app_version).ok(),
                Some(parsed),
                "{again}"
            );
        }
    }
}

/// A line of a plugin's stderr (hclog JSON, go-plugin's text levels, anything).
pub fn stderr_line(data: &[u8]) {
    let line = String::from_utf8_lossy(data);
    crate::logs::stderr_line("fuzz", &line);
    let tail = crate::logs::Tail::default();
    tail.push(&line);
    let _ = tail.suffix();
}

/// JSON as a `google.protobuf.Struct` and back: what comes back is what went in (numbers as
/// doubles, which is what a `Struct` holds).
pub fn struct_json(data: &[u8]) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(data)
    else {
        return;
    };
    let back = |map| crate::convert::struct_to_json(crate::convert::json_to_struct(map), "raw");
    match back(map) {
        Ok(once) => assert_eq!(back(once.clone()).as_ref(), Ok(&once)),
        Err(e) => panic!("a Struct made from JSON is not valid JSON: {e}"),
    }
}

/// A message of the wire as robodev receives it: the first byte picks the message type, the
/// rest is decoded and converted to robodev's types; what converts goes back to the wire type
/// and converts to the same again.
pub fn proto_message(data: &[u8]) {
    use robodev_core as core;
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    macro_rules! kinds {
        ($($pb:ty => $core:ty),* $(,)?) => {{
            let decoders: &[fn(&[u8])] = &[$(|bytes| round_trip::<$pb, $core>(bytes)),*];
            decoders[usize::from(kind) % decoders.len()](bytes);
        }};
    }
    kinds!(
        pb::Ticket => core::Ticket,
        pb::PollReadyTicketsResponse => core::ticketing::PollReadyTicketsResponse,
        pb::NotifyRequest => core::notifications::NotifyRequest,
        pb::NotifyStartRequest => core::notifications::NotifyStartRequest,
        pb::NotifyCompleteRequest => core::notifications::NotifyCompleteRequest,
        pb::RequestApprovalRequest => core::approval::RequestApprovalRequest,
        pb::ReviewDiffResponse => core::review::ReviewDiffResponse,
        pb::GetGateResultResponse => core::review::GetGateResultResponse,
        pb::GetPullRequestStatusResponse => core::scm::GetPullRequestStatusResponse,
        pb::ListReviewCommentsResponse => core::scm::ListReviewCommentsResponse,
        pb::GetSecretsResponse => core::secrets::GetSecretsResponse,
        pb::BuildEnvVarsResponse => core::secrets::BuildEnvVarsResponse,
        pb::BuildExecutionSpecResponse => core::engine::BuildExecutionSpecResponse,
    );
}

fn round_trip<P, C>(bytes: &[u8])
where
    P: Message + Default + From<C>,
    C: TryFrom<P> + Clone + PartialEq + std::fmt::Debug,
{
    let Ok(message) = P::decode(bytes) else {
        return;
    };
    let Ok(value) = C::try_from(message) else {
        return;
    };
    let wire = P::from(value.clone()).encode_to_vec();
    match P::decode(wire.as_slice()).map(C::try_from) {
        Ok(Ok(again)) => assert_eq!(again, value),
        _ => panic!("a value robodev accepted does not come back from its own encoding: {value:?}"),
    }
}
