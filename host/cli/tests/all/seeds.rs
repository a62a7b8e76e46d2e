//! The seeds' plugin examples, built with robodev's SDKs as a user builds them (the Jira plugin
//! pip-installed from examples/plugins/example-jira-python, the Teams plugin npm-installed and
//! compiled from examples/plugins/example-teams-ts, the Slack plugin built with Go modules from
//! examples/plugins/example-slack-go), run one ticket through `robodev run --once` against local
//! HTTP servers answering as Jira's REST API v2 and Teams' and Slack's webhooks.

use std::sync::{Arc, Mutex};

use robodev_test_support::http::{Request, Response, Server};
use robodev_test_support::plugins::{jira_plugin, slack_plugin, teams_plugin};
use serde_json::json;

use crate::{code, robodev_command, stderr};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Jira as far as the plugin uses it: one project PROJ with one ready issue PROJ-1 (until it is
/// moved), its transitions and comments. Wrong credentials are refused as Jira does.
fn jira(expected_auth: String) -> (Server, Arc<Mutex<String>>) {
    let status = Arc::new(Mutex::new("To Do".to_owned()));
    let state = status.clone();
    let server = Server::start(move |r: &Request| {
        if r.header("authorization") != Some(expected_auth.as_str()) {
            return Response::json(401, &json!({"errorMessages": ["not logged in"]}));
        }
        match (r.method.as_str(), r.path()) {
            ("GET", "/rest/api/2/search") => {
                let jql = r.query("jql").unwrap_or_default();
                let ready = *state.lock().unwrap() == "To Do"
                    && jql.contains(r#"project = "PROJ""#)
                    && jql.contains(r#"status = "To Do""#)
                    && jql.contains(r#"labels = "robodev""#);
                let issues = if ready {
                    json!([{"key": "PROJ-1", "fields": {
                        "summary": "Fix the login bug",
                        "description": "SSO users are sent back to the login page.",
                        "labels": ["robodev", "backend"],
                        "issuetype": {"name": "Bug"},
                        "priority": {"name": "High"},
                        "status": {"name": "To Do"},
                        "customfield_10042": "https://git.example/acme/api"
                    }}])
                } else {
                    json!([])
                };
                Response::json(200, &json!({"startAt": 0, "total": 1, "issues": issues}))
            }
            ("GET", "/rest/api/2/issue/PROJ-1/transitions") => Response::json(
                200,
                &json!({"transitions": [{"id": "21", "name": "In Progress"}, {"id": "31", "name": "Done"}]}),
            ),
            ("POST", "/rest/api/2/issue/PROJ-1/transitions") => {
                let to = match r.json()["transition"]["id"].as_str() {
                    Some("21") => "In Progress",
                    Some("31") => "Done",
                    _ => return Response::json(400, &json!({"errorMessages": ["bad transition"]})),
                };
                *state.lock().unwrap() = to.to_owned();
                Response::text(204, "")
            }
            ("POST", "/rest/api/2/issue/PROJ-1/comment") => {
                Response::json(201, &json!({"id": "100"}))
            }
            _ => Response::json(404, &json!({"errorMessages": ["Issue does not exist"]})),
        }
    });
    (server, status)
}

#[test]
fn the_seed_examples_move_a_jira_issue_through_a_run_and_tell_teams_and_slack() {
    let jira_plugin = jira_plugin();
    let teams_plugin = teams_plugin();
    let slack_plugin = slack_plugin();
    let basic = format!(
        "Basic {}",
        // bot@acme.example:jira-token
        "Ym90QGFjbWUuZXhhbXBsZTpqaXJhLXRva2Vu"
    );
    let (jira, status) = jira(basic);
    let teams = Server::start(|r: &Request| {
        if r.method == "POST" && r.path() == "/webhook" {
            Response::text(200, "1")
        } else {
            Response::text(404, "no such webhook")
        }
    });

    let slack = Server::start(|r: &Request| {
        if r.method == "POST" && r.path() == "/services/T0/B0/x" {
            Response::text(200, "ok")
        } else {
            Response::text(404, "no_service")
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("agent.sh"),
        "#!/bin/sh\nset -eu\ntest \"$ROBODEV_TICKET_ID\" = PROJ-1\n\
         echo '{\"success\": true, \"summary\": \"Sent SSO users to their page\", \"branchName\": \"robodev/PROJ-1\", \"mergeRequestUrl\": \"https://git.example/acme/api/pull/7\"}' >\"$ROBODEV_RESULT_FILE\"\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", d.join("agent.sh").to_str().unwrap()])
        .status()
        .unwrap();
    // The Jira token comes from the secrets backend as a granted secret: the plugins are
    // confined, see only what their entry gives them, and reach the network only as granted.
    std::fs::write(d.join("secrets.yaml"), "jira-api-token: jira-token\n").unwrap();
    let config = d.join("robodev-config.yaml");
    std::fs::write(
        &config,
        format!(
            "state_dir: state\n\
             plugins:\n\
             \x20 - name: jira\n\
             \x20   type: ticketing\n\
             \x20   interface_version: 1\n\
             \x20   command: {jira_cmd}\n\
             \x20   env: {{ JIRA_URL: \"{jira_url}\", JIRA_PROJECT: PROJ, JIRA_EMAIL: bot@acme.example, JIRA_REPO_FIELD: customfield_10042 }}\n\
             \x20   secrets: {{ JIRA_TOKEN: jira-api-token }}\n\
             \x20   sandbox: {{ network: true }}\n\
             \x20 - name: teams\n\
             \x20   type: notifications\n\
             \x20   interface_version: 1\n\
             \x20   command: {teams_cmd}\n\
             \x20   env: {{ TEAMS_WEBHOOK_URL: \"{teams_url}/webhook\" }}\n\
             \x20   sandbox: {{ network: true }}\n\
             \x20 - name: slack\n\
             \x20   type: notifications\n\
             \x20   interface_version: 1\n\
             \x20   command: {slack_cmd}\n\
             \x20   env: {{ SLACK_WEBHOOK_URL: \"{slack_url}/services/T0/B0/x\" }}\n\
             \x20   sandbox: {{ network: true }}\n\
             secrets: {{ backend: file, config: {{ file: secrets.yaml }} }}\n\
             ticketing: {{ backend: jira, labels: [robodev] }}\n\
             notifications: {{ channels: [ {{ backend: teams }}, {{ backend: slack }} ] }}\n\
             engines: {{ default: local, local: {{ command: [./agent.sh], timeout_seconds: 60 }} }}\n\
             guardrails: {{ allowed_task_types: [bug_fix] }}\n",
            jira_cmd = jira_plugin.display(),
            jira_url = jira.url(),
            teams_cmd = teams_plugin.display(),
            teams_url = teams.url(),
            slack_cmd = slack_plugin.display(),
            slack_url = slack.url(),
        ),
    )
    .unwrap();

    let out = robodev_command(d, &["run", "--once", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}\n{}", stderr(&out));
    assert!(
        text.contains("PROJ-1") && text.contains("Succeeded"),
        "{text}\n{}",
        stderr(&out)
    );

    // Jira: polled with the project, status and label; moved to In Progress, then Done with a
    // comment naming the pull request.
    assert_eq!(*status.lock().unwrap(), "Done");
    let calls: Vec<String> = jira
        .seen()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path()))
        .collect();
    let at = |call: &str| {
        calls
            .iter()
            .position(|c| c == call)
            .unwrap_or_else(|| panic!("no {call} in {calls:?}"))
    };
    assert!(at("GET /rest/api/2/search") < at("POST /rest/api/2/issue/PROJ-1/transitions"));
    let comments: Vec<String> = jira
        .seen()
        .iter()
        .filter(|r| r.path() == "/rest/api/2/issue/PROJ-1/comment")
        .map(|r| r.json()["body"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains("Sent SSO users to their page")
            && comments[0].contains("https://git.example/acme/api/pull/7"),
        "{comments:?}"
    );

    // Teams: a card when the agent started and a green one with the outcome.
    let cards: Vec<serde_json::Value> = teams.seen().iter().map(Request::json).collect();
    assert_eq!(cards.len(), 2, "{cards:#?}");
    let card = |i: usize| cards[i]["attachments"][0]["content"].clone();
    assert!(
        card(0)["body"][0]["text"]
            .as_str()
            .unwrap()
            .contains("started ticket PROJ-1"),
        "{:#?}",
        card(0)
    );
    assert_eq!(card(1)["body"][0]["color"], "Good", "{:#?}", card(1));
    assert_eq!(card(1)["body"][1]["text"], "Sent SSO users to their page");
    assert_eq!(
        card(1)["actions"][0]["url"],
        format!("{}/browse/PROJ-1", jira.url())
    );

    // Slack: the start, then the outcome with the pull request.
    let messages: Vec<String> = slack
        .seen()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].contains("started") && messages[0].contains("PROJ-1"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("succeeded: Sent SSO users to their page")
            && messages[1].contains("https://git.example/acme/api/pull/7"),
        "{messages:?}"
    );
}

/// The same Jira and Teams plugins (and the Go Slack one) in hashicorp/go-plugin's own client, as
/// RoboDev's Go controller loads them: robodev's Go host, built with go-plugin v1.7.0 and
/// v1.0.1, with and without AutoMTLS, against the same local stand-ins for Jira and the webhooks.
#[test]
fn the_seed_examples_load_in_a_go_plugin_host() {
    use robodev_test_support::plugins::{GoPlugin, go_host_of};
    let (jira_plugin, teams_plugin, slack_plugin) = (jira_plugin(), teams_plugin(), slack_plugin());
    let (jira, status) = jira(format!("Basic {}", "Ym90QGFjbWUuZXhhbXBsZTpqaXJhLXRva2Vu"));
    let webhooks = Server::start(|r: &Request| match (r.method.as_str(), r.path()) {
        ("POST", "/teams") => Response::text(200, "1"),
        ("POST", "/slack") => Response::text(200, "ok"),
        _ => Response::text(404, "no such webhook"),
    });
    for (version, mtls) in GoPlugin::ALL
        .into_iter()
        .flat_map(|v| [(v, false), (v, true)])
    {
        let host = || {
            let mut command = std::process::Command::new(go_host_of(version));
            command.env("ROBODEV_GO_HOST_LOG_LEVEL", "warn");
            if mtls {
                command.arg("-mtls");
            }
            command
        };
        let run = |command: &mut std::process::Command| {
            let out = command.output().unwrap();
            assert!(
                out.status.success(),
                "go host {} (mtls {mtls}): {}",
                version.version(),
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        };

        *status.lock().unwrap() = "To Do".to_owned();
        let v = run(host()
            .args(["-ticket", "PROJ-1", "-missing", "PROJ-404"])
            .arg(&jira_plugin)
            .env("JIRA_URL", jira.url())
            .env("JIRA_PROJECT", "PROJ")
            .env("JIRA_EMAIL", "bot@acme.example")
            .env("JIRA_TOKEN", "jira-token")
            .env("JIRA_REPO_FIELD", "customfield_10042"));
        assert_eq!(v["handshake"]["pluginName"], "jira", "{v}");
        assert_eq!(v["tickets"], json!(["PROJ-1"]), "{v}");
        assert!(v["notFound"].as_str().unwrap().contains("PROJ-404"), "{v}");
        assert_eq!(*status.lock().unwrap(), "In Progress");

        for (plugin, name, env, path) in [
            (&teams_plugin, "teams", "TEAMS_WEBHOOK_URL", "/teams"),
            (&slack_plugin, "slack", "SLACK_WEBHOOK_URL", "/slack"),
        ] {
            let before = webhooks.seen().len();
            let v = run(host()
                .args(["-interface", "notifications", "-ticket", "PROJ-1"])
                .arg(plugin)
                .env(env, format!("{}{path}", webhooks.url())));
            assert_eq!(v["handshake"]["pluginName"], name, "{v}");
            assert_eq!(
                v["sent"],
                json!(["NotifyStart", "NotifyComplete", "Notify"])
            );
            let posted: Vec<String> = webhooks.seen()[before..]
                .iter()
                .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                .collect();
            // One post per call: the start names the ticket, the message is passed on.
            assert!(
                posted.len() == 3
                    && posted[0].contains("PROJ-1")
                    && posted[1].contains("done from a go-plugin host")
                    && posted[2].contains("hello from a go-plugin host"),
                "{name}: {posted:#?}"
            );
        }
    }
}
