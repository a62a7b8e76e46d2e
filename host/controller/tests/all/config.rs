//! robodev-config.yaml: what a valid file turns into, and the exact message of each kind of
//! mistake (file, line, key path, what was expected).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on the first unexpected value"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use robodev_controller::config::{
    BackendRef, ComponentLocation, ComponentSpec, Config, ConfigError, InstanceMode,
    PluginSettings, PluginSource, SettingsSource, SubprocessSpec,
};
use robodev_core::Interface;
use robodev_core::engine::{EngineConfig, Resources};
use serde_json::json;

/// The smallest valid file: the built-in ticketing and engine with their required options.
const BASE: &str = "\
ticketing: { backend: local, config: { file: tickets.yaml } }
engines: { local: { command: [agent] } }
";

/// Writes `text` as robodev-config.yaml in a fresh directory and loads it.
fn load(text: &str) -> (tempfile::TempDir, PathBuf, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("robodev-config.yaml");
    std::fs::write(&path, text).unwrap();
    let result = Config::load(&path);
    (dir, path, result)
}

/// The error a user sees for `text`, with the temp directory left out of the file name.
fn error(text: &str) -> String {
    let (_dir, path, result) = load(text);
    let e = result.expect_err("the config should be refused");
    assert_eq!(e.file, path);
    let shown = e.to_string();
    assert!(!shown.contains('\n'), "one line: {shown}");
    shown.replacen(&path.display().to_string(), "robodev-config.yaml", 1)
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn a_full_config_round_trips_into_validated_values() {
    let text = format!(
        r##"
poll_interval: 5m
state_dir: state
cache_dir: /var/cache/robodev
plugins:
  - name: jira
    type: ticketing
    interface_version: 1
    command: ./bin/robodev-plugin-jira
    args: [--verbose]
    env: {{ JIRA_URL: "https://jira.example.com" }}
    auto_mtls: false
    start_timeout: 250ms
    call_timeout: 2
  - name: slack
    type: notifications
    interface_version: 1
    component: plugins/slack.wasm
    digest: {DIGEST}
    config: {{ channel: "#robots", n: 3, tags: [a, b], nested: {{ x: true }} }}
    secrets: {{ token: slack-bot-token }}
    allowed_hosts: [hooks.slack.com]
    kv: true
    read_only_dirs: {{ /rules: rules, /etc/x: /srv/x }}
    limits: {{ fuel: 50000000, timeout_ms: 2000, memory_mb: 64 }}
    instance: {{ warm: 2 }}
  - name: gate
    type: approval
    interface_version: 1
    command: robodev-plugin-gate
  - name: scm-v1
    type: scm
    interface_version: 1
    component: /opt/plugins/scm.wasm
    instance: fresh
plugin_health:
  max_plugin_restarts: 5
  restart_backoff: [1, 10s, 1m]
  critical_plugins: [jira, log]
ticketing:
  backend: jira
  labels: [robodev]
  max_results: 5
notifications:
  channels:
    - backend: log
    - backend: slack
approval: {{ backend: gate }}
scm: {{ backend: scm-v1 }}
review: {{ backend: rules, config: {{ max_diff_lines: 400 }}, min_score: 70 }}
engines:
  default: local
  local:
    image: ghcr.io/acme/agent:1
    timeout_seconds: 600
    env: {{ MODE: fast }}
    resource_requests: {{ cpu: 500m, memory: 1Gi }}
    resource_limits: {{ cpu: "2", memory: 4Gi }}
    command: [claude, --print]
guardrails:
  allowed_repos: ["github.com/acme/*"]
  allowed_task_types: [bug_fix]
  max_concurrent_jobs: 4
  max_job_duration_minutes: 30
  require_approval_before_start: true
  max_retries: 1
"##
    );
    let (dir, path, result) = load(&text);
    let config = result.unwrap();
    let d = dir.path();
    assert_eq!(config.path, path);
    assert_eq!(config.poll_interval, Duration::from_secs(300));
    assert_eq!(config.state_dir, d.join("state"));
    assert_eq!(config.cache_dir, Some(PathBuf::from("/var/cache/robodev")));

    assert_eq!(config.plugins.len(), 4);
    let jira = &config.plugins[0];
    assert_eq!(
        (
            jira.name.as_str(),
            jira.interface,
            jira.interface_version,
            jira.line
        ),
        ("jira", Interface::Ticketing, 1, 6)
    );
    assert_eq!(
        jira.source,
        PluginSource::Subprocess(SubprocessSpec {
            command: d.join("bin/robodev-plugin-jira"),
            args: vec!["--verbose".into()],
            env: BTreeMap::from([("JIRA_URL".into(), "https://jira.example.com".into())]),
            secrets: BTreeMap::new(),
            sandbox: robodev_grpc::Sandbox::default(),
            auto_mtls: false,
            start_timeout: Duration::from_millis(250),
            call_timeout: Duration::from_secs(2),
        })
    );
    let slack = &config.plugins[1];
    assert_eq!(
        (slack.name.as_str(), slack.interface, slack.line),
        ("slack", Interface::Notifications, 15)
    );
    assert_eq!(
        slack.source,
        PluginSource::Component(ComponentSpec {
            location: ComponentLocation::File(d.join("plugins/slack.wasm")),
            digest: Some(DIGEST.into()),
            config: BTreeMap::from([
                ("channel".into(), "#robots".into()),
                ("n".into(), "3".into()),
                ("tags".into(), r#"["a","b"]"#.into()),
                ("nested".into(), r#"{"x":true}"#.into()),
            ]),
            secrets: BTreeMap::from([("token".into(), "slack-bot-token".into())]),
            allowed_hosts: vec!["hooks.slack.com".into()],
            kv: true,
            read_only_dirs: BTreeMap::from([
                ("/rules".into(), d.join("rules")),
                ("/etc/x".into(), PathBuf::from("/srv/x")),
            ]),
            fuel: Some(50_000_000),
            timeout: Some(Duration::from_millis(2000)),
            memory_mb: Some(64),
            component_mb: None,
            instance: InstanceMode::Warm(2),
        })
    );
    // A bare command is left for PATH lookup.
    let PluginSource::Subprocess(gate) = &config.plugins[2].source else {
        panic!("gate is a subprocess plugin");
    };
    assert_eq!(gate.command, PathBuf::from("robodev-plugin-gate"));
    assert!(gate.auto_mtls);
    assert_eq!(gate.start_timeout, Duration::from_secs(30));
    assert_eq!(gate.call_timeout, Duration::from_secs(30));
    // The declared version is kept as written: comparing it is the registry's job.
    let scm = &config.plugins[3];
    assert_eq!((scm.interface, scm.interface_version), (Interface::Scm, 1));
    let PluginSource::Component(scm_component) = &scm.source else {
        panic!("scm-v1 is a component plugin");
    };
    assert_eq!(
        scm_component.location,
        ComponentLocation::File(PathBuf::from("/opt/plugins/scm.wasm"))
    );
    assert_eq!(scm_component.instance, InstanceMode::Fresh);
    assert_eq!(scm_component.fuel, None);

    assert_eq!(config.plugin_health.max_plugin_restarts, 5);
    assert_eq!(
        config.plugin_health.restart_backoff,
        [1, 10, 60].map(Duration::from_secs)
    );
    assert_eq!(config.plugin_health.critical_plugins, ["jira", "log"]);

    let plugin = |interface, name: &str| BackendRef::Plugin {
        interface,
        name: name.into(),
    };
    let builtin = |interface, name: &str, config| BackendRef::Builtin {
        interface,
        name: name.into(),
        config,
    };
    assert_eq!(
        config.ticketing.backend,
        plugin(Interface::Ticketing, "jira")
    );
    assert_eq!(config.ticketing.labels, ["robodev"]);
    assert_eq!(config.ticketing.max_results, 5);
    assert_eq!(
        config.notifications,
        [
            builtin(Interface::Notifications, "log", json!({})),
            plugin(Interface::Notifications, "slack"),
        ]
    );
    assert_eq!(config.approval, Some(plugin(Interface::Approval, "gate")));
    assert_eq!(
        config.secrets,
        builtin(Interface::Secrets, "env", json!({}))
    );
    assert_eq!(config.scm, Some(plugin(Interface::Scm, "scm-v1")));
    let review = config.review.as_ref().unwrap();
    assert_eq!(
        review.backend,
        builtin(Interface::Review, "rules", json!({ "max_diff_lines": 400 }))
    );
    assert_eq!(review.min_score, Some(70));
    assert_eq!(
        config.engine.backend,
        builtin(
            Interface::Engine,
            "local",
            json!({ "command": ["claude", "--print"] })
        )
    );
    assert_eq!(
        config.engine.config,
        EngineConfig {
            image: "ghcr.io/acme/agent:1".into(),
            resource_requests: Some(Resources {
                cpu: "500m".into(),
                memory: "1Gi".into()
            }),
            resource_limits: Some(Resources {
                cpu: "2".into(),
                memory: "4Gi".into()
            }),
            timeout_seconds: 600,
            env: BTreeMap::from([("MODE".into(), "fast".into())]),
        }
    );
    let g = &config.guardrails;
    assert_eq!(g.allowed_repos, ["github.com/acme/*"]);
    assert_eq!(g.allowed_task_types, ["bug_fix"]);
    assert_eq!(g.max_concurrent_jobs, 4);
    assert_eq!(g.max_job_duration, Duration::from_secs(30 * 60));
    assert!(g.require_approval_before_start);
    assert_eq!(g.max_retries, 1);
}

#[test]
fn defaults_fill_in_what_the_file_leaves_out() {
    let (dir, _path, result) = load(BASE);
    let config = result.unwrap();
    assert_eq!(config.poll_interval, Duration::from_secs(30));
    assert_eq!(config.state_dir, dir.path().join(".robodev"));
    assert_eq!(config.cache_dir, None);
    assert!(config.plugins.is_empty());
    assert_eq!(config.plugin_health.max_plugin_restarts, 3);
    assert_eq!(
        config.plugin_health.restart_backoff,
        [1, 5, 30].map(Duration::from_secs)
    );
    assert!(config.plugin_health.critical_plugins.is_empty());
    assert_eq!(
        config.ticketing.backend,
        BackendRef::Builtin {
            interface: Interface::Ticketing,
            name: "local".into(),
            config: json!({ "file": "tickets.yaml" }),
        }
    );
    assert!(config.ticketing.labels.is_empty());
    assert_eq!(config.ticketing.max_results, 10);
    assert!(config.notifications.is_empty());
    assert_eq!(config.approval, None);
    assert_eq!(
        config.secrets,
        BackendRef::Builtin {
            interface: Interface::Secrets,
            name: "env".into(),
            config: json!({}),
        }
    );
    assert_eq!(config.scm, None);
    assert_eq!(config.review, None);
    assert_eq!(config.engine.backend.name(), "local");
    assert_eq!(config.engine.config, EngineConfig::default());
    let g = &config.guardrails;
    assert!(g.allowed_repos.is_empty() && g.allowed_task_types.is_empty());
    assert_eq!(g.max_concurrent_jobs, 2);
    assert_eq!(g.max_job_duration, Duration::from_secs(3600));
    assert!(!g.require_approval_before_start);
    assert_eq!(g.max_retries, 0);
}

#[test]
fn json_is_yaml_too_and_relative_paths_follow_the_file() {
    let text = r#"{"ticketing": {"backend": "local", "config": {"file": "t.yaml"}},
 "engines": {"local": {"command": ["agent"]}},
 "state_dir": "../state", "poll_interval": 7,
 "plugins": [{"name": "p", "type": "review", "interface_version": 1, "component": "./p.wasm"}]}"#;
    let config = Config::parse(text, Path::new("/etc/robodev/robodev-config.yaml")).unwrap();
    assert_eq!(config.state_dir, PathBuf::from("/etc/robodev/../state"));
    assert_eq!(config.poll_interval, Duration::from_secs(7));
    let PluginSource::Component(c) = &config.plugins[0].source else {
        panic!("a component");
    };
    assert_eq!(
        c.location,
        ComponentLocation::File(PathBuf::from("/etc/robodev/p.wasm"))
    );
}

#[test]
fn a_yaml_syntax_error_names_its_line() {
    assert_eq!(
        error("ticketing:\n  backend: local\n config: {}\n"),
        "robodev-config.yaml:3: invalid YAML: while parsing a block mapping, did not find expected key"
    );
    assert_eq!(
        error(&format!(
            "{BASE}plugins: []\nticketing: {{ backend: local }}\n"
        )),
        r#"robodev-config.yaml:4: ticketing: key "ticketing" appears twice (first on line 1)"#
    );
}

#[test]
fn an_unknown_top_level_key_suggests_the_known_one() {
    assert_eq!(
        error("poll_interval: 30s\ntiketing: { backend: local }\n"),
        r#"robodev-config.yaml:2: tiketing: unknown key "tiketing" (did you mean "ticketing"?)"#
    );
    assert_eq!(
        error(&format!("{BASE}colour: blue\n")),
        "robodev-config.yaml:3: colour: unknown key \"colour\"; expected one of: poll_interval, \
         state_dir, cache_dir, cache_mb, plugins, plugin_health, ticketing, notifications, approval, \
         secrets, scm, review, engines, guardrails, admin, executor, leader_election, task_runs, oci, require_signatures, trusted_keys, transparency_log_keys, require_transparency_log"
    );
}

#[test]
fn an_unknown_plugin_key_suggests_the_known_one() {
    let text = format!(
        "{BASE}plugins:\n  - name: jira\n    type: ticketing\n    interface_verison: 1\n    command: jira\n"
    );
    assert_eq!(
        error(&text),
        r#"robodev-config.yaml:6: plugins[0].interface_verison: unknown key "interface_verison" (did you mean "interface_version"?)"#
    );
}

#[test]
fn a_wrong_type_says_what_was_expected_and_found() {
    let text = format!(
        "{BASE}plugins:
  - {{ name: jira, type: ticketing, interface_version: 1, command: jira }}
  - name: slack
    type: notifications
    interface_version: one
    component: slack.wasm
"
    );
    assert_eq!(
        error(&text),
        r#"robodev-config.yaml:7: plugins[1].interface_version: expected an integer, found "one""#
    );
    assert_eq!(
        error(&format!("{BASE}guardrails:\n  max_retries: -1\n")),
        "robodev-config.yaml:4: guardrails.max_retries: expected an integer from 0 to 4294967295, found -1"
    );
    assert_eq!(
        error(&format!(
            "{BASE}notifications: {{ channels: {{ backend: log }} }}\n"
        )),
        "robodev-config.yaml:3: notifications.channels: expected a list, found a map"
    );
    assert_eq!(
        error(&format!(
            "{BASE}plugins:\n  - {{ name: p, type: review, interface_version: 0, command: p }}\n"
        )),
        "robodev-config.yaml:4: plugins[0].interface_version: expected an integer >= 1, found 0"
    );
}

#[test]
fn an_unknown_plugin_type_suggests_the_known_one() {
    let text = format!(
        "{BASE}plugins:\n  - name: jira\n    type: tiketing\n    interface_version: 1\n    command: jira\n"
    );
    assert_eq!(
        error(&text),
        "robodev-config.yaml:5: plugins[0].type: unknown plugin type \"tiketing\"; expected one of: \
         ticketing, notifications, approval, secrets, scm, review, engine (did you mean \"ticketing\"?)"
    );
}

#[test]
fn a_missing_required_key_or_section_is_named() {
    let text = format!("{BASE}plugins:\n  - name: jira\n    type: ticketing\n    command: jira\n");
    assert_eq!(
        error(&text),
        r#"robodev-config.yaml:4: plugins[0]: missing required key "interface_version""#
    );
    assert_eq!(
        error("poll_interval: 30s\n"),
        r#"robodev-config.yaml: missing required section "ticketing" (it selects the ticketing backend, e.g. "ticketing: { backend: local }")"#
    );
    assert_eq!(
        error("ticketing:\n  labels: [a]\n"),
        r#"robodev-config.yaml:1: ticketing: missing required key "backend""#
    );
    assert_eq!(
        error("# nothing here yet\n"),
        r#"robodev-config.yaml: the file is empty; expected a map of settings with at least a "ticketing" section"#
    );
    assert_eq!(
        error("- ticketing\n"),
        "robodev-config.yaml:1: expected a map of settings at the top level, found a list"
    );
}

#[test]
fn a_plugin_has_exactly_one_of_command_and_component() {
    let neither =
        format!("{BASE}plugins:\n  - name: jira\n    type: ticketing\n    interface_version: 1\n");
    assert_eq!(
        error(&neither),
        "robodev-config.yaml:4: plugins[0]: expected one of `command` (subprocess plugin) or `component` (Wasm component)"
    );
    let both = format!(
        "{BASE}plugins:\n  - name: jira\n    type: ticketing\n    interface_version: 1\n    command: jira\n    component: jira.wasm\n"
    );
    assert_eq!(
        error(&both),
        "robodev-config.yaml:4: plugins[0]: has both `command` and `component`; a plugin is either a subprocess (`command`) or a Wasm component (`component`)"
    );
}

#[test]
fn keys_of_the_other_kind_of_plugin_are_refused() {
    let text = format!(
        "{BASE}plugins:
  - name: jira
    type: ticketing
    interface_version: 1
    command: jira
    kv: true
    allowed_hosts: [jira.example.com]
"
    );
    assert_eq!(
        error(&text),
        "robodev-config.yaml:8: plugins[0].kv: `kv` only applies to component plugins; this is a subprocess plugin (it has `command`)"
    );
    let text = format!(
        "{BASE}plugins:\n  - {{ name: slack, type: notifications, interface_version: 1, component: s.wasm }}\n  - name: x\n    type: review\n    interface_version: 1\n    component: x.wasm\n    env: {{ A: b }}\n"
    );
    assert_eq!(
        error(&text),
        "robodev-config.yaml:9: plugins[1].env: `env` only applies to subprocess plugins; this is a component plugin (it has `component`)"
    );
}

#[test]
fn plugin_names_are_unique_and_not_built_in_names() {
    let text = format!(
        "{BASE}plugins:
  - {{ name: jira, type: ticketing, interface_version: 1, command: jira }}
  - {{ name: slack, type: notifications, interface_version: 1, component: s.wasm }}
  - {{ name: jira, type: ticketing, interface_version: 1, command: jira2 }}
"
    );
    assert_eq!(
        error(&text),
        r#"robodev-config.yaml:6: plugins[2].name: "jira" is already the name of plugins[0] (line 4)"#
    );
    let text = format!(
        "{BASE}plugins:\n  - {{ name: log, type: ticketing, interface_version: 1, command: jira }}\n"
    );
    assert_eq!(
        error(&text),
        "robodev-config.yaml:4: plugins[0].name: \"log\" is the name of a built-in backend; plugin names \
         must differ from every built-in backend name (env, file, k8s, local, log, rules, webhook)"
    );
    let text = format!(
        "{BASE}plugins:\n  - {{ name: Jira, type: ticketing, interface_version: 1, command: jira }}\n"
    );
    assert_eq!(
        error(&text),
        "robodev-config.yaml:4: plugins[0].name: \"Jira\" is not a valid plugin name (expected lowercase \
         letters, digits, '_' and '-', starting with a letter or digit)"
    );
}

#[test]
fn a_backend_naming_an_unknown_plugin_suggests_a_close_one() {
    let text = "\
plugins:
  - { name: jira, type: ticketing, interface_version: 1, command: jira }
ticketing:
  backend: jirra
engines: { local: { command: [agent] } }
";
    assert_eq!(
        error(text),
        r#"robodev-config.yaml:4: ticketing.backend: unknown ticketing backend "jirra"; expected one of: local (built-in), jira (plugin) (did you mean "jira"?)"#
    );
    assert_eq!(
        error(&format!("{BASE}approval: {{ backend: human }}\n")),
        r#"robodev-config.yaml:3: approval.backend: unknown approval backend "human"; robodev has no built-in approval backend and no approval plugin is configured"#
    );
}

#[test]
fn a_backend_naming_a_plugin_of_another_interface_is_refused() {
    let text = "\
plugins:
  - { name: slack, type: notifications, interface_version: 1, component: s.wasm }
ticketing: { backend: slack }
engines: { local: { command: [agent] } }
";
    assert_eq!(
        error(text),
        r#"robodev-config.yaml:3: ticketing.backend: plugin "slack" is a notifications plugin, expected a ticketing plugin"#
    );
}

#[test]
fn a_backend_is_a_notification_channel_once() {
    let text = format!(
        "{BASE}notifications:\n  channels:\n    - backend: log\n    - {{ backend: log, config: {{ file: other.jsonl }} }}\n"
    );
    assert_eq!(
        error(&text),
        r#"robodev-config.yaml:6: notifications.channels[1].backend: "log" is already notifications.channels[0]; each backend can be a channel once"#
    );
}

#[test]
fn config_is_for_built_in_backends_only() {
    let text = "\
plugins:
  - { name: jira, type: ticketing, interface_version: 1, command: jira }
ticketing:
  backend: jira
  config: { project: ROBO }
engines: { local: { command: [agent] } }
";
    assert_eq!(
        error(text),
        r#"robodev-config.yaml:5: ticketing.config: config applies to built-in backends only; plugin "jira" takes its settings in its plugins entry"#
    );
}

#[test]
fn a_built_in_backend_checks_its_own_options() {
    // What the built-in says is its own business; the key path and line are ours.
    let shown = error(
        "ticketing:\n  backend: local\n  config: { file: t.yaml, no_such_option: 1 }\nengines: { local: { command: [agent] } }\n",
    );
    assert!(
        shown.starts_with("robodev-config.yaml:3: ticketing.config"),
        "{shown}"
    );
}

#[test]
fn component_references_are_checked() {
    let text = format!(
        "{BASE}plugins:\n  - name: slack\n    type: notifications\n    interface_version: 1\n    component: s.wasm\n    digest: sha256:ABC\n"
    );
    assert_eq!(
        error(&text),
        r#"robodev-config.yaml:8: plugins[0].digest: expected "sha256:" followed by 64 lowercase hex digits, found "sha256:ABC""#
    );
    let text = format!(
        "{BASE}plugins:\n  - name: slack\n    type: notifications\n    interface_version: 1\n    component: oci://ghcr.io/acme/slack\n"
    );
    assert_eq!(
        error(&text),
        r#"robodev-config.yaml:7: plugins[0].component: invalid OCI reference "oci://ghcr.io/acme/slack": no tag or digest: write oci://ghcr.io/acme/slack:TAG or @sha256:DIGEST (there is no implicit :latest)"#
    );
    // One pin: `digest:` must agree with the reference's own.
    let other = DIGEST.replace('0', "f");
    let text = format!(
        "{BASE}plugins:\n  - name: slack\n    type: notifications\n    interface_version: 1\n    component: oci://ghcr.io/acme/slack:1@{DIGEST}\n    digest: {other}\n"
    );
    assert_eq!(
        error(&text),
        format!(
            "robodev-config.yaml:8: plugins[0].digest: {other} differs from the digest pinned in the component reference ({DIGEST})"
        )
    );
    // `digest:` pins a tag reference.
    let text = format!(
        "{BASE}plugins:\n  - {{ name: slack, type: notifications, interface_version: 1, component: \"oci://127.0.0.1:5000/acme/slack:1\", digest: \"{DIGEST}\" }}\n"
    );
    let (_dir, _path, config) = load(&text);
    let config = config.unwrap();
    let PluginSource::Component(c) = &config.plugins[0].source else {
        panic!("a component")
    };
    assert_eq!(
        c.location.to_string(),
        format!("oci://127.0.0.1:5000/acme/slack:1@{DIGEST}")
    );
    assert_eq!(c.digest.as_deref(), Some(DIGEST));
    let text = format!(
        "{BASE}plugins:\n  - {{ name: s, type: review, interface_version: 1, component: s.wasm, instance: {{ warm: 0 }} }}\n"
    );
    assert_eq!(
        error(&text),
        "robodev-config.yaml:4: plugins[0].instance.warm: expected an integer >= 1, found 0"
    );
    let text = format!(
        "{BASE}plugins:\n  - name: s\n    type: review\n    interface_version: 1\n    component: s.wasm\n    limits:\n      fuel: 0\n"
    );
    assert_eq!(
        error(&text),
        "robodev-config.yaml:9: plugins[0].limits.fuel: expected an integer >= 1, found 0"
    );
    let text = format!(
        "{BASE}plugins:\n  - {{ name: s, type: review, interface_version: 1, component: s.wasm, instance: hot }}\n"
    );
    assert_eq!(
        error(&text),
        r#"robodev-config.yaml:4: plugins[0].instance: expected "fresh" or { warm: N }, found "hot""#
    );
}

#[test]
fn a_bad_duration_says_what_a_duration_looks_like() {
    assert_eq!(
        error(&format!("poll_interval: 30x\n{BASE}")),
        r#"robodev-config.yaml:1: poll_interval: expected a duration (seconds as an integer, or a Go duration string such as "30s", "1m30s", "1.5h", "250ms"), found "30x""#
    );
    assert_eq!(
        error(&format!("{BASE}poll_interval: 0s\n")),
        "robodev-config.yaml:3: poll_interval: expected a duration above 0, found 0"
    );
    let text = format!(
        "{BASE}plugins:\n  - name: jira\n    type: ticketing\n    interface_version: 1\n    command: jira\n    start_timeout: -5\n"
    );
    assert_eq!(
        error(&text),
        r#"robodev-config.yaml:8: plugins[0].start_timeout: expected a duration (seconds as an integer, or a Go duration string such as "30s", "1m30s", "1.5h", "250ms"), found -5"#
    );
}

#[test]
fn approval_before_start_needs_an_approval_backend() {
    assert_eq!(
        error(&format!(
            "{BASE}guardrails:\n  require_approval_before_start: true\n"
        )),
        "robodev-config.yaml:4: guardrails.require_approval_before_start: is true, but no approval backend \
         is configured (add an `approval: { backend: NAME }` section naming an approval plugin)"
    );
}

#[test]
fn critical_plugins_must_name_something() {
    let text = format!(
        "{BASE}plugins:
  - {{ name: jira, type: ticketing, interface_version: 1, command: jira }}
plugin_health:
  critical_plugins: [jirra]
"
    );
    assert_eq!(
        error(&text),
        r#"robodev-config.yaml:6: plugin_health.critical_plugins[0]: "jirra" is neither a configured plugin nor a selected built-in backend; expected one of: jira, local, env (did you mean "jira"?)"#
    );
    assert_eq!(
        error(&format!("{BASE}plugin_health:\n  restart_backoff: []\n")),
        "robodev-config.yaml:4: plugin_health.restart_backoff: expected at least one delay, since \
         max_plugin_restarts is 3 (set it to 0 to never restart)"
    );
}

#[test]
fn engine_sections_are_named_after_engines() {
    assert_eq!(
        error(
            "ticketing: { backend: local, config: { file: t.yaml } }\nengines:\n  lcoal: { command: [agent] }\n"
        ),
        r#"robodev-config.yaml:3: engines.lcoal: no engine is called "lcoal"; an engine section is named after a built-in engine or an engine plugin (expected `default` or one of: local) (did you mean "local"?)"#
    );
    let text = "\
plugins:
  - { name: codex, type: engine, interface_version: 1, command: codex }
ticketing: { backend: local, config: { file: t.yaml } }
engines:
  default: codex
  codex: { image: agent:1, command: [codex] }
";
    assert_eq!(
        error(text),
        r#"robodev-config.yaml:6: engines.codex.command: `command` is an option of the built-in local engine; engine plugin "codex" takes its settings in its plugins entry"#
    );
    let text = "\
plugins:
  - { name: codex, type: engine, interface_version: 1, command: codex }
ticketing: { backend: local, config: { file: t.yaml } }
engines:
  default: codex
  codex: { image: agent:1 }
";
    let (_dir, _path, result) = load(text);
    let config = result.unwrap();
    assert_eq!(
        config.engine.backend,
        BackendRef::Plugin {
            interface: Interface::Engine,
            name: "codex".into()
        }
    );
    assert_eq!(config.engine.config.image, "agent:1");
}

#[test]
fn an_unreadable_file_names_the_file_and_the_os_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.yaml");
    let e = Config::load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: cannot read the config file: No such file or directory (os error 2)",
            path.display()
        )
    );
    assert_eq!((e.line, e.key.as_str()), (None, ""));
}

#[test]
fn the_admin_api_listens_on_loopback_unless_remote_is_allowed() {
    use robodev_controller::config::AdminSettings;

    let (_dir, _path, result) = load(BASE);
    assert_eq!(result.unwrap().admin, None, "no section, no admin API");
    let (_dir, _path, result) = load(&format!(
        "{BASE}admin: {{ token_secret: robodev-admin-token }}\n"
    ));
    assert_eq!(
        result.unwrap().admin,
        Some(AdminSettings {
            listen: "127.0.0.1:9464".parse().unwrap(),
            token_secret: "robodev-admin-token".into(),
        })
    );
    let (_dir, _path, result) = load(&format!(
        "{BASE}admin:\n  listen: \"[::1]:9000\"\n  token_secret: t\n"
    ));
    assert_eq!(
        result.unwrap().admin.unwrap().listen,
        "[::1]:9000".parse().unwrap()
    );
    let (_dir, _path, result) = load(&format!(
        "{BASE}admin:\n  listen: 0.0.0.0:9464\n  token_secret: t\n  allow_remote: true\n"
    ));
    assert_eq!(
        result.unwrap().admin.unwrap().listen,
        "0.0.0.0:9464".parse().unwrap()
    );
}

#[test]
fn admin_settings_are_checked() {
    assert_eq!(
        error(&format!(
            "{BASE}admin:\n  listen: 0.0.0.0:9464\n  token_secret: t\n"
        )),
        "robodev-config.yaml:4: admin.listen: 0.0.0.0:9464 is not a loopback address; the admin API \
         can switch plugins off, so listening beyond this host needs `allow_remote: true`"
    );
    assert_eq!(
        error(&format!(
            "{BASE}admin:\n  listen: localhost:9464\n  token_secret: t\n"
        )),
        r#"robodev-config.yaml:4: admin.listen: expected an address as IP:PORT, e.g. "127.0.0.1:9464" (host names are not looked up), found "localhost:9464""#
    );
    assert_eq!(
        error(&format!("{BASE}admin:\n  listen: 127.0.0.1:9464\n")),
        r#"robodev-config.yaml:3: admin: missing required key "token_secret""#
    );
    assert_eq!(
        error(&format!("{BASE}admin: {{ token_secret: \"\" }}\n")),
        r#"robodev-config.yaml:3: admin.token_secret: expected the key of the admin API's bearer token in the secrets backend, found """#
    );
    assert_eq!(
        error(&format!("{BASE}admin:\n  token: t\n")),
        r#"robodev-config.yaml:4: admin.token: unknown key "token" (did you mean "token_secret"?)"#
    );
}

#[test]
fn required_signatures_need_trusted_keys() {
    let text = format!("{BASE}require_signatures: true\n");
    assert_eq!(
        error(&text),
        "robodev-config.yaml:3: require_signatures: signatures are required but trusted_keys lists no public key"
    );
    let (dir, _path, config) = load(&format!(
        "{BASE}require_signatures: true\ntrusted_keys: [keys/cosign.pub]\n"
    ));
    let policy = config.unwrap().signatures.expect("a policy");
    assert_eq!(
        policy.trusted_keys,
        vec![dir.path().join("keys/cosign.pub")]
    );
    // Transparency logs: keys resolved like trusted_keys; requiring a log needs a log key and
    // signatures at all.
    let (dir, _path, config) = load(&format!(
        "{BASE}require_signatures: true\ntrusted_keys: [k.pub]\ntransparency_log_keys: [rekor.pub]\nrequire_transparency_log: true\n"
    ));
    let policy = config.unwrap().signatures.unwrap();
    let d = std::path::absolute(dir.path()).unwrap();
    assert_eq!(policy.log_keys, [d.join("rekor.pub")]);
    assert!(policy.require_tlog);
    assert_eq!(
        error(&format!(
            "{BASE}require_signatures: true\ntrusted_keys: [k.pub]\nrequire_transparency_log: true\n"
        )),
        "robodev-config.yaml:5: require_transparency_log: a transparency log is required but transparency_log_keys lists no log's public key"
    );
    assert_eq!(
        error(&format!(
            "{BASE}transparency_log_keys: [rekor.pub]\nrequire_transparency_log: true\n"
        )),
        "robodev-config.yaml:4: require_transparency_log: applies only with require_signatures: true"
    );
}

#[test]
fn the_oci_transfer_timeout_is_a_positive_duration() {
    let (_dir, _path, config) = load(&format!("{BASE}oci:\n  transfer_timeout: 90s\n"));
    assert_eq!(
        config.unwrap().oci.transfer_timeout,
        Some(std::time::Duration::from_secs(90))
    );
    let (_dir, _path, config) = load(BASE);
    assert_eq!(config.unwrap().oci.transfer_timeout, None);
    assert_eq!(
        error(&format!("{BASE}oci:\n  transfer_timeout: 0s\n")),
        "robodev-config.yaml:4: oci.transfer_timeout: expected a duration above 0, found 0"
    );
    assert!(
        error(&format!("{BASE}oci:\n  transfer_timeout: soon\n"))
            .starts_with("robodev-config.yaml:4: oci.transfer_timeout: expected a duration"),
    );
}

#[test]
fn oci_ca_files_resolve_against_the_config_file() {
    let (dir, _path, config) = load(&format!(
        "{BASE}oci:\n  ca_files: [certs/internal-ca.pem, /etc/ssl/lan.pem]\n"
    ));
    assert_eq!(
        config.unwrap().oci.ca_files,
        [
            std::path::absolute(dir.path())
                .unwrap()
                .join("certs/internal-ca.pem"),
            PathBuf::from("/etc/ssl/lan.pem")
        ]
    );
    assert_eq!(
        error(&format!("{BASE}oci:\n  ca_files: [\"\"]\n")),
        r#"robodev-config.yaml:4: oci.ca_files[0]: expected a path, found """#
    );
}

#[test]
fn registry_credentials_are_one_kind_each() {
    let text = format!(
        "{BASE}oci:\n  credentials:\n    registry.example: {{ username: robot, token_secret: t }}\n"
    );
    assert_eq!(
        error(&text),
        "robodev-config.yaml:5: oci.credentials.registry.example: expected either `username` with `password_secret`, or `token_secret`"
    );
    let (_dir, _path, config) = load(&format!(
        "{BASE}oci:\n  insecure_registries: [\"registry.lan:5000\"]\n  credentials:\n    ghcr.io: {{ token_secret: ghcr-token }}\n"
    ));
    let oci = config.unwrap().oci;
    assert_eq!(
        oci.insecure_registries,
        vec!["registry.lan:5000".to_owned()]
    );
    assert_eq!(
        oci.credentials,
        vec![(
            "ghcr.io".to_owned(),
            robodev_controller::config::OciCredentials::Bearer {
                token_secret: "ghcr-token".into()
            }
        )]
    );
}

/// `plugin call --plugin-config FILE`: one `plugins:` entry, read by the same code.
fn settings(text: &str, source: SettingsSource) -> Result<PluginSettings, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.yaml");
    std::fs::write(&path, text).unwrap();
    PluginSettings::load(&path, source).map_err(|e| {
        e.to_string()
            .replacen(&path.display().to_string(), "settings.yaml", 1)
    })
}

#[test]
fn a_plugin_settings_file_is_a_plugin_entry_without_its_source() {
    let component = || SettingsSource::Component("/plugins/slack.wasm".into());
    // An entry copied from robodev-config.yaml, `component:` left out, reads as it does there.
    let s = settings(
        "name: slack\ntype: notifications\ninterface_version: 1\nkv: true\nread_only_dirs: { /rules: /srv/rules }\nlimits: { fuel: 7 }\ninstance: { warm: 2 }\n",
        component(),
    )
    .unwrap();
    assert_eq!(s.name.as_deref(), Some("slack"));
    assert_eq!(s.interface, Some(Interface::Notifications));
    assert_eq!(s.interface_version, Some(1));
    let PluginSource::Component(c) = &s.source else {
        panic!("{s:?}")
    };
    assert_eq!(
        c.location,
        ComponentLocation::File("/plugins/slack.wasm".into())
    );
    assert!(c.kv);
    assert_eq!(c.fuel, Some(7));
    assert_eq!(c.instance, InstanceMode::Warm(2));
    assert_eq!(c.read_only_dirs["/rules"], PathBuf::from("/srv/rules"));
    assert_eq!(c.warm_instances(), 2);
    assert_eq!(c.limits().fuel, 7);

    // Name, type and version are optional here; an empty file is no settings at all.
    let s = settings("", component()).unwrap();
    assert_eq!(
        (s.name, s.interface, s.interface_version),
        (None, None, None)
    );

    // The same messages as in robodev-config.yaml, with key paths from the file's top.
    assert_eq!(
        settings("allowed_host: [x]\n", component()).unwrap_err(),
        r#"settings.yaml:1: allowed_host: unknown key "allowed_host" (did you mean "allowed_hosts"?)"#
    );
    assert_eq!(
        settings("kv: true\nenv: { A: b }\n", component()).unwrap_err(),
        "settings.yaml:2: env: `env` only applies to subprocess plugins; this is a component plugin (it has `component`)"
    );
    assert_eq!(
        settings("kv: true\n", SettingsSource::Command("/bin/jira".into())).unwrap_err(),
        "settings.yaml:1: kv: `kv` only applies to component plugins; this is a subprocess plugin (it has `command`)"
    );
    assert_eq!(
        settings("limits: { fuel: lots }\n", component()).unwrap_err(),
        "settings.yaml:1: limits.fuel: expected an integer, found \"lots\""
    );
    assert_eq!(
        settings("type: notifs\n", component()).unwrap_err(),
        r#"settings.yaml:1: type: unknown plugin type "notifs"; expected one of: ticketing, notifications, approval, secrets, scm, review, engine (did you mean "notifications"?)"#
    );
    assert_eq!(
        settings("read_only_dirs: { rules: /srv }\n", component()).unwrap_err(),
        r#"settings.yaml:1: read_only_dirs.rules: "rules" is not an absolute guest path (expected e.g. "/data")"#
    );
    assert_eq!(
        settings("kv: true\ncomponent: other.wasm\n", component()).unwrap_err(),
        "settings.yaml:2: component: where the plugin comes from is the SOURCE argument; remove `component` from this file"
    );
    assert_eq!(
        settings("[1, 2]\n", component()).unwrap_err(),
        "settings.yaml:1: expected the keys of one plugin entry (config, secrets, limits, ...), found a list"
    );

    // A subprocess plugin's keys, durations as Go writes them.
    let s = settings(
        "args: [--verbose]\nenv: { A: b }\nauto_mtls: false\nstart_timeout: 1m30s\n",
        SettingsSource::Command("/bin/jira".into()),
    )
    .unwrap();
    let PluginSource::Subprocess(p) = &s.source else {
        panic!("{s:?}")
    };
    assert_eq!(p.args, ["--verbose"]);
    assert!(!p.auto_mtls);
    assert_eq!(p.start_timeout, Duration::from_secs(90));
    let config = p.process_config("jira", None, Default::default());
    assert_eq!(config.env, [("A".to_owned(), "b".to_owned())]);
    assert_eq!(config.start_timeout, Duration::from_secs(90));
}

#[test]
fn the_executor_is_local_unless_the_file_says_kubernetes() {
    use robodev_controller::config::{
        DEFAULT_KEEP_FAILED, ExecutorSettings, KubernetesSettings, LocalSettings,
    };
    let (_dir, _path, config) = load(BASE);
    assert_eq!(
        config.unwrap().executor,
        ExecutorSettings::Local(LocalSettings {
            keep_failed: DEFAULT_KEEP_FAILED
        })
    );
    let (_dir, _path, config) = load(&format!("{BASE}executor: {{ keep_failed: 3 }}\n"));
    assert_eq!(
        config.unwrap().executor,
        ExecutorSettings::Local(LocalSettings { keep_failed: 3 })
    );
    assert_eq!(
        error(&format!(
            "{BASE}executor: {{ kind: kubernetes, keep_failed: 3 }}\n"
        )),
        "robodev-config.yaml:3: executor.keep_failed: `keep_failed` only applies to `kind: local` (a failed agent's Job is kept for `ttl_after_finished`)"
    );
    assert_eq!(
        error(&format!("{BASE}executor: {{ keep_failed: -1 }}\n")),
        "robodev-config.yaml:3: executor.keep_failed: expected an integer from 0 to 18446744073709551615, found -1"
    );
    let (_dir, _path, config) = load(&format!(
        "{BASE}executor:\n  kind: kubernetes\n  namespace: agents\n  service_account: robodev-agent\n  ttl_after_finished: 10m\n"
    ));
    assert_eq!(
        config.unwrap().executor,
        ExecutorSettings::Kubernetes(KubernetesSettings {
            namespace: Some("agents".into()),
            service_account: Some("robodev-agent".into()),
            ttl_after_finished: Duration::from_secs(600),
            runtime_class: None,
        })
    );
    let (_dir, _path, config) = load(&format!("{BASE}executor: {{ kind: kubernetes }}\n"));
    let ExecutorSettings::Kubernetes(k) = config.unwrap().executor else {
        panic!()
    };
    assert_eq!(
        (k.namespace, k.ttl_after_finished),
        (None, Duration::from_secs(3600))
    );
    assert_eq!(
        error(&format!("{BASE}executor: {{ kind: kubernets }}\n")),
        r#"robodev-config.yaml:3: executor.kind: unknown executor "kubernets"; expected one of: local, kubernetes (did you mean "kubernetes"?)"#
    );
    assert_eq!(
        error(&format!("{BASE}executor: {{ namespace: agents }}\n")),
        "robodev-config.yaml:3: executor.namespace: `namespace` only applies to `kind: kubernetes`"
    );
    assert_eq!(
        error(&format!(
            "{BASE}executor: {{ kind: kubernetes, namespace: Agents_1 }}\n"
        )),
        r#"robodev-config.yaml:3: executor.namespace: "Agents_1" is not a valid Kubernetes name (lowercase letters, digits and '-', at most 63)"#
    );
}

#[test]
fn task_runs_are_files_unless_kept_in_the_cluster_with_the_kubernetes_executor() {
    use robodev_controller::config::TaskRunStore;
    let (_dir, _path, result) = load(BASE);
    assert_eq!(result.unwrap().task_runs, TaskRunStore::File);
    let (_dir, _path, result) = load(&format!(
        "{BASE}executor: {{ kind: kubernetes }}\ntask_runs: {{ store: kubernetes, namespace: robodev }}\n"
    ));
    assert_eq!(
        result.unwrap().task_runs,
        TaskRunStore::Kubernetes {
            namespace: Some("robodev".into())
        }
    );
    let (_dir, _path, result) = load(&format!(
        "{BASE}executor: {{ kind: kubernetes }}\ntask_runs: {{ store: kubernetes }}\n"
    ));
    assert_eq!(
        result.unwrap().task_runs,
        TaskRunStore::Kubernetes { namespace: None }
    );
    assert_eq!(
        error(&format!("{BASE}task_runs: {{ store: kubernetes }}\n")),
        "robodev-config.yaml:3: task_runs.store: `kubernetes` needs `executor.kind: kubernetes` \
         (a local agent's workspace does not follow its run to another replica)"
    );
    assert_eq!(
        error(&format!("{BASE}task_runs: {{ store: kubernetis }}\n")),
        "robodev-config.yaml:3: task_runs.store: unknown task run store \"kubernetis\"; expected \
         one of: file, kubernetes (did you mean \"kubernetes\"?)"
    );
    assert_eq!(
        error(&format!("{BASE}task_runs: {{ namespace: robodev }}\n")),
        "robodev-config.yaml:3: task_runs.namespace: `namespace` only applies to `store: kubernetes`"
    );
    assert_eq!(
        error(&format!(
            "{BASE}executor: {{ kind: kubernetes }}\ntask_runs: {{ store: kubernetes, namespace: Robo_Dev }}\n"
        )),
        "robodev-config.yaml:4: task_runs.namespace: \"Robo_Dev\" is not a valid Kubernetes name \
         (lowercase letters, digits and '-', at most 63)"
    );
}
