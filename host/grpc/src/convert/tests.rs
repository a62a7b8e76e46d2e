//! Round trips core → pb → (wire →) pb → core, `Struct` ↔ JSON, and the errors of values a
//! peer may send that core cannot hold.

use std::collections::BTreeMap;
use std::fmt::Debug;

use prost::Message;
use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use robodev_core::{
    Error, ErrorCode, Failure, Interface, PluginError, PluginInfo, TaskResult, Ticket, TokenUsage,
    approval, engine, notifications, review, scm, secrets, ticketing,
};
use serde_json::json;
use tonic::Code;

use super::*;

/// core → pb → bytes → pb → core gives back the original.
fn round_trip<P, C>(value: C)
where
    C: Clone + PartialEq + Debug + TryFrom<P>,
    <C as TryFrom<P>>::Error: Debug,
    P: From<C> + Message + Default,
{
    let bytes = P::from(value.clone()).encode_to_vec();
    let decoded = P::decode(bytes.as_slice()).unwrap();
    assert_eq!(C::try_from(decoded).unwrap(), value);
}

fn object(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn number(x: f64) -> Value {
    Value {
        kind: Some(Kind::NumberValue(x)),
    }
}

fn ticket(id: &str) -> Ticket {
    Ticket {
        id: id.into(),
        title: "Fix the flaky test".into(),
        description: "It fails **sometimes**.".into(),
        ticket_type: "bug_fix".into(),
        labels: vec!["robodev".into(), "p1".into()],
        repo_url: "https://example.invalid/acme/app".into(),
        external_url: format!("https://example.invalid/acme/app/issues/{id}"),
        raw: Some(object(json!({
            "number": 42,
            "score": -1.25,
            "draft": false,
            "assignee": null,
            "labels": [{"name": "robodev", "id": 7}, "plain", [1, [2]]],
            "user": {"login": "octo", "site_admin": true, "nested": {"deep": {}}},
            "empty_list": [],
        }))),
    }
}

fn task_result() -> TaskResult {
    TaskResult {
        success: true,
        merge_request_url: "https://example.invalid/acme/app/pull/9".into(),
        branch_name: "robodev/42".into(),
        summary: "Fixed it".into(),
        token_usage: Some(TokenUsage {
            input_tokens: 1 << 40,
            output_tokens: -3,
        }),
        cost_estimate_usd: 0.125,
        exit_code: 2,
    }
}

fn gate_result() -> review::GateResult {
    review::GateResult {
        passed: false,
        summary: "Two problems".into(),
        comments: vec![review::ReviewComment {
            file_path: "src/lib.rs".into(),
            line: 12,
            severity: review::Severity::Warning,
            message: "unused".into(),
            suggestion: "remove it".into(),
        }],
        security_findings: vec![
            review::SecurityFinding {
                rule_id: "secret".into(),
                severity: review::Severity::Critical,
                file_path: ".env".into(),
                line: 1,
                description: "an API key".into(),
                cwe_id: "CWE-798".into(),
            },
            review::SecurityFinding::default(),
        ],
        score: 35,
    }
}

// ---- Struct <-> JSON --------------------------------------------------------------------------

#[test]
fn struct_round_trips_json() {
    let original = object(json!({
        "string": "text",
        "int": 3,
        "negative": -17,
        "zero": 0,
        "big": 9_007_199_254_740_991_i64,
        "float": 1.5,
        "true": true,
        "false": false,
        "null": null,
        "list": [1, "two", null, [3.25, []], {"k": "v"}],
        "object": {"inner": {"deep": [false, {"x": 1}]}, "empty": {}},
    }));
    let back = struct_to_json(json_to_struct(original.clone()), "raw").unwrap();
    assert_eq!(back, original);
    // Equality of serde_json numbers is by representation, but be explicit:
    assert!(back["int"].is_i64() && back["int"] == json!(3));
    assert!(!serde_json::Value::Object(back).to_string().contains("3.0"));
}

#[test]
fn integral_doubles_become_integers_within_2_pow_53() {
    let s = Struct {
        fields: [
            ("three".to_owned(), number(3.0)),
            ("minus".to_owned(), number(-42.0)),
            ("negative_zero".to_owned(), number(-0.0)),
            ("half".to_owned(), number(0.5)),
            ("limit".to_owned(), number(9_007_199_254_740_992.0)),
        ]
        .into(),
    };
    let json = serde_json::Value::Object(struct_to_json(s, "raw").unwrap());
    assert_eq!(json["three"], json!(3));
    assert!(json["three"].is_i64());
    assert_eq!(json["minus"], json!(-42));
    assert_eq!(json["negative_zero"], json!(0));
    assert_eq!(json["half"], json!(0.5));
    // 2^53 is where doubles stop being exact integers: it stays a float.
    assert!(json["limit"].is_f64());
}

#[test]
fn value_without_kind_is_null() {
    let s = Struct {
        fields: [
            ("unset".to_owned(), Value { kind: None }),
            (
                "null".to_owned(),
                Value {
                    kind: Some(Kind::NullValue(0)),
                },
            ),
            (
                "list".to_owned(),
                Value {
                    kind: Some(Kind::ListValue(ListValue {
                        values: vec![Value { kind: None }],
                    })),
                },
            ),
        ]
        .into(),
    };
    assert_eq!(
        serde_json::Value::Object(struct_to_json(s, "raw").unwrap()),
        json!({"unset": null, "null": null, "list": [null]})
    );
}

#[test]
fn non_finite_numbers_are_rejected_with_their_path() {
    let bad = |x: f64| pb::PollReadyTicketsResponse {
        tickets: vec![
            pb::Ticket::default(),
            pb::Ticket::from(ticket("1")),
            pb::Ticket {
                raw: Some(Struct {
                    fields: [(
                        "a".to_owned(),
                        Value {
                            kind: Some(Kind::StructValue(Struct {
                                fields: [(
                                    "b c".to_owned(),
                                    Value {
                                        kind: Some(Kind::ListValue(ListValue {
                                            values: vec![number(1.0), number(x)],
                                        })),
                                    },
                                )]
                                .into(),
                            })),
                        },
                    )]
                    .into(),
                }),
                ..Default::default()
            },
        ],
    };
    let err = ticketing::PollReadyTicketsResponse::try_from(bad(f64::NAN)).unwrap_err();
    assert_eq!(
        err,
        r#"tickets[2].raw.a["b c"][1]: number NaN is not valid JSON"#
    );
    let err = ticketing::PollReadyTicketsResponse::try_from(bad(f64::INFINITY)).unwrap_err();
    assert_eq!(
        err,
        r#"tickets[2].raw.a["b c"][1]: number inf is not valid JSON"#
    );

    let direct = Struct {
        fields: [("x".to_owned(), number(f64::NEG_INFINITY))].into(),
    };
    assert_eq!(
        struct_to_json(direct, "raw").unwrap_err(),
        "raw.x: number -inf is not valid JSON"
    );
}

#[test]
fn nan_in_a_request_ticket_names_the_field() {
    let request = pb::NotifyRequest {
        message: "hi".into(),
        ticket: Some(pb::Ticket {
            raw: Some(Struct {
                fields: [("cost".to_owned(), number(f64::NAN))].into(),
            }),
            ..Default::default()
        }),
    };
    assert_eq!(
        notifications::NotifyRequest::try_from(request).unwrap_err(),
        "ticket.raw.cost: number NaN is not valid JSON"
    );
}

// ---- one round trip per interface -------------------------------------------------------------

#[test]
fn ticketing_round_trips() {
    round_trip::<pb::PollReadyTicketsResponse, _>(ticketing::PollReadyTicketsResponse {
        tickets: vec![ticket("1"), Ticket::default(), ticket("3")],
    });
    round_trip::<pb::PollReadyTicketsRequest, _>(ticketing::PollReadyTicketsRequest {
        labels: vec!["robodev".into()],
        max_results: 10,
    });
    round_trip::<pb::MarkCompleteRequest, _>(ticketing::MarkCompleteRequest {
        ticket_id: "42".into(),
        result: Some(task_result()),
    });
    round_trip::<pb::MarkCompleteRequest, _>(ticketing::MarkCompleteRequest {
        ticket_id: "42".into(),
        result: None,
    });
    round_trip::<pb::MarkFailedRequest, _>(ticketing::MarkFailedRequest {
        ticket_id: "42".into(),
        reason: "boom".into(),
    });
    round_trip::<pb::AddCommentRequest, _>(ticketing::AddCommentRequest {
        ticket_id: "42".into(),
        comment: "hello".into(),
    });
    round_trip::<pb::MarkInProgressResponse, _>(robodev_core::Empty {});
}

#[test]
fn notifications_round_trip() {
    round_trip::<pb::NotifyCompleteRequest, _>(notifications::NotifyCompleteRequest {
        ticket: Some(ticket("7")),
        task_run_id: "run-1".into(),
        result: Some(task_result()),
    });
    round_trip::<pb::NotifyStartRequest, _>(notifications::NotifyStartRequest {
        ticket: Some(ticket("7")),
        task_run_id: "run-1".into(),
        engine: "claude-code".into(),
    });
    round_trip::<pb::NotifyRequest, _>(notifications::NotifyRequest {
        message: "done".into(),
        ticket: None,
    });
}

#[test]
fn approval_round_trips() {
    round_trip::<pb::RequestApprovalRequest, _>(approval::RequestApprovalRequest {
        question: "Merge?".into(),
        ticket: Some(ticket("9")),
        task_run_id: "run-2".into(),
        options: vec!["yes".into(), "no".into()],
    });
    round_trip::<pb::RequestApprovalResponse, _>(approval::RequestApprovalResponse {
        request_id: "req-1".into(),
    });
}

#[test]
fn secrets_round_trip() {
    round_trip::<pb::BuildEnvVarsResponse, _>(secrets::BuildEnvVarsResponse {
        env_vars: vec![
            secrets::EnvVar {
                name: "TOKEN".into(),
                value: String::new(),
                secret_ref: Some(secrets::SecretKeyRef {
                    name: "gh".into(),
                    key: "token".into(),
                }),
            },
            secrets::EnvVar {
                name: "PLAIN".into(),
                value: "v".into(),
                secret_ref: None,
            },
        ],
    });
    round_trip::<pb::BuildEnvVarsRequest, _>(secrets::BuildEnvVarsRequest {
        secret_refs: vec![secrets::SecretRef {
            env_name: "TOKEN".into(),
            secret_key: "gh/token".into(),
        }],
    });
    round_trip::<pb::GetSecretsResponse, _>(secrets::GetSecretsResponse {
        secrets: BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]),
    });
}

#[test]
fn scm_round_trips() {
    round_trip::<pb::GetPullRequestStatusResponse, _>(scm::GetPullRequestStatusResponse {
        state: scm::PullRequestState::Merged,
        mergeable: true,
        ci_status: scm::CiStatus::Failing,
        review_status: scm::ReviewStatus::ChangesRequested,
        pull_request_url: "https://example.invalid/pr/1".into(),
    });
    round_trip::<pb::ListReviewCommentsResponse, _>(scm::ListReviewCommentsResponse {
        comments: vec![scm::ReviewComment {
            id: "c1".into(),
            thread_id: "t1".into(),
            author: "octo".into(),
            body: "nit".into(),
            file_path: "src/main.rs".into(),
            line: 3,
            created_unix: 1_700_000_000,
        }],
    });
    round_trip::<pb::CreatePullRequestRequest, _>(scm::CreatePullRequestRequest {
        repo_url: "r".into(),
        title: "t".into(),
        body: "b".into(),
        head_branch: "h".into(),
        base_branch: "main".into(),
        labels: vec!["robodev".into()],
        draft: true,
    });
}

#[test]
fn scm_enums_round_trip_every_variant() {
    use scm::{CiStatus as C, PullRequestState as S, ReviewStatus as R};
    for state in [S::Unspecified, S::Open, S::Closed, S::Merged, S::Draft] {
        for ci in [C::Unspecified, C::Pending, C::Passing, C::Failing] {
            for review in [R::Unspecified, R::Pending, R::Approved, R::ChangesRequested] {
                round_trip::<pb::GetPullRequestStatusResponse, _>(
                    scm::GetPullRequestStatusResponse {
                        state,
                        ci_status: ci,
                        review_status: review,
                        ..Default::default()
                    },
                );
            }
        }
    }
    // The numbers are the proto's.
    let pb = pb::GetPullRequestStatusResponse::from(scm::GetPullRequestStatusResponse {
        state: S::Draft,
        ci_status: C::Passing,
        review_status: R::ChangesRequested,
        ..Default::default()
    });
    assert_eq!((pb.state, pb.ci_status, pb.review_status), (4, 2, 3));
}

#[test]
fn review_round_trips() {
    round_trip::<pb::ReviewDiffRequest, _>(review::ReviewDiffRequest {
        task_run_id: "run-3".into(),
        ticket: Some(ticket("11")),
        diff: "--- a\n+++ b\n".into(),
        branch_name: "robodev/11".into(),
        repo_url: "r".into(),
        result: Some(task_result()),
    });
    round_trip::<pb::ReviewDiffResponse, _>(review::ReviewDiffResponse {
        review_id: "rev-1".into(),
        gate_result: Some(gate_result()),
    });
    round_trip::<pb::GetGateResultResponse, _>(review::GetGateResultResponse { gate_result: None });
    for severity in [
        review::Severity::Unspecified,
        review::Severity::Info,
        review::Severity::Warning,
        review::Severity::Error,
        review::Severity::Critical,
    ] {
        round_trip::<pb::ReviewComment, _>(review::ReviewComment {
            severity,
            ..Default::default()
        });
    }
}

#[test]
fn engine_round_trips() {
    let resources = |cpu: &str| engine::Resources {
        cpu: cpu.into(),
        memory: "1Gi".into(),
    };
    round_trip::<pb::BuildExecutionSpecRequest, _>(engine::BuildExecutionSpecRequest {
        task: Some(engine::Task {
            id: "task-1".into(),
            ticket_id: "42".into(),
            title: "t".into(),
            description: "d".into(),
            repo_url: "r".into(),
            labels: vec!["x".into()],
            metadata: BTreeMap::from([("k".into(), "v".into()), ("a".into(), "b".into())]),
        }),
        config: Some(engine::EngineConfig {
            image: "img:1".into(),
            resource_requests: Some(resources("500m")),
            resource_limits: None,
            timeout_seconds: 3600,
            env: BTreeMap::from([("LOG".into(), "debug".into())]),
        }),
    });
    round_trip::<pb::BuildExecutionSpecResponse, _>(engine::BuildExecutionSpecResponse {
        spec: Some(engine::ExecutionSpec {
            image: "img:1".into(),
            command: vec!["run".into(), "--fast".into()],
            env: BTreeMap::from([("A".into(), "1".into())]),
            secret_env: BTreeMap::from([("TOKEN".into(), "gh/token".into())]),
            resource_requests: Some(resources("1")),
            resource_limits: Some(resources("2")),
            volumes: vec![engine::VolumeMount {
                name: "work".into(),
                mount_path: "/work".into(),
                read_only: true,
            }],
            active_deadline_seconds: 7200,
        }),
    });
    round_trip::<pb::BuildPromptResponse, _>(engine::BuildPromptResponse {
        prompt: "Do it".into(),
    });
}

#[test]
fn handshake_maps_versions_and_names() {
    assert_eq!(handshake_request(Interface::Scm).interface_version, 2);
    assert_eq!(handshake_request(Interface::Ticketing).interface_version, 1);
    let info = PluginInfo {
        name: "jira".into(),
        version: "1.2.0".into(),
    };
    let response = handshake_response(Interface::Scm, info.clone());
    assert_eq!(response.interface_version, 2);
    assert_eq!(PluginInfo::from(response), info);
}

// ---- enums ------------------------------------------------------------------------------------

#[test]
fn unknown_enum_numbers_are_errors_naming_the_field() {
    let err = scm::GetPullRequestStatusResponse::try_from(pb::GetPullRequestStatusResponse {
        state: 9,
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err, "state: 9 is not a known PullRequestState value");

    let err = scm::GetPullRequestStatusResponse::try_from(pb::GetPullRequestStatusResponse {
        review_status: -1,
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err, "review_status: -1 is not a known ReviewStatus value");

    let mut gate = pb::GateResult::from(gate_result());
    gate.security_findings[1].severity = 42;
    let err = review::GetGateResultResponse::try_from(pb::GetGateResultResponse {
        gate_result: Some(gate),
    })
    .unwrap_err();
    assert_eq!(
        err,
        "gate_result.security_findings[1].severity: 42 is not a known Severity value"
    );
}

// ---- errors -----------------------------------------------------------------------------------

#[test]
fn errors_become_statuses() {
    let plugin = |error| Error::Plugin {
        plugin: "p".into(),
        interface: Interface::Ticketing,
        error,
    };
    let status = error_to_status(&plugin(PluginError::new(
        ErrorCode::NotFound,
        "no ticket 7",
    )));
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "no ticket 7");
    for code in ErrorCode::ALL {
        let status = error_to_status(&plugin(PluginError::new(code, "m")));
        assert_eq!(code_from_status(status.code()), Some(code));
    }

    let failed = Error::Failed {
        plugin: "p".into(),
        interface: Interface::Ticketing,
        failure: Failure::Crashed {
            detail: "exit 1".into(),
        },
    };
    let status = error_to_status(&failed);
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(status.message(), failed.to_string());

    let deadline = Error::Failed {
        plugin: "p".into(),
        interface: Interface::Ticketing,
        failure: Failure::DeadlineExceeded {
            limit: std::time::Duration::from_secs(1),
        },
    };
    assert_eq!(error_to_status(&deadline).code(), Code::DeadlineExceeded);

    let invalid = Error::InvalidInput {
        plugin: "p".into(),
        interface: Interface::Ticketing,
        message: "bad".into(),
    };
    assert_eq!(error_to_status(&invalid).code(), Code::InvalidArgument);

    let host = Error::Host {
        plugin: "p".into(),
        interface: Interface::Ticketing,
        message: "disk full".into(),
        source: None,
    };
    let status = error_to_status(&host);
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), host.to_string());
}

#[test]
fn status_codes_map_to_error_codes() {
    assert_eq!(code_from_status(Code::Ok), None);
    assert_eq!(code_from_status(Code::NotFound), Some(ErrorCode::NotFound));
    assert_eq!(
        code_from_status(Code::Unauthenticated),
        Some(ErrorCode::Unauthenticated)
    );
}
