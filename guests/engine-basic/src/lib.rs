//! `engine-basic`: an execution engine (`robodev:engine/engine@1.0.0`) that builds the container
//! spec and the prompt of a generic agent run, with no engine-specific logic.
//!
//! Config keys:
//!
//! - `default_image` (optional): the image when the operator's engine-config names none;
//!   otherwise `ghcr.io/robodev/agent:latest`.
//! - `secret_env` (optional): a JSON object mapping environment variable names to secret
//!   references, copied into the spec's `secret-env` (sorted by name).
//!
//! The spec runs `robodev-agent --task <task id>` with the engine-config's env plus `TASK_ID`,
//! `TICKET_ID` and `REPO_URL`, its resources, a deadline of `timeout-seconds` (3600 when not
//! positive), and a writable `/workspace` volume. The prompt is deterministic markdown naming
//! the task's title, description, repository and labels.

wit_bindgen::generate!({
    path: ["../../wit/types", "../../wit/host", "../../wit/engine"],
    world: "robodev:engine/plugin@1.0.0",
    generate_all,
});

use exports::robodev::engine::engine::{EngineConfig, ExecutionSpec, Guest, Task, VolumeMount};
use robodev::host::config;
use robodev::types::types::{PluginError, PluginInfo};

/// Image used when neither the engine-config nor the plugin config names one.
const DEFAULT_IMAGE: &str = "ghcr.io/robodev/agent:latest";
/// `activeDeadlineSeconds` when the engine-config sets no positive timeout: one hour.
const DEFAULT_DEADLINE_SECONDS: i32 = 3600;

struct Component;

impl Guest for Component {
    fn handshake() -> PluginInfo {
        PluginInfo {
            name: "engine-basic".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn build_execution_spec(
        task: Option<Task>,
        config: Option<EngineConfig>,
    ) -> Result<ExecutionSpec, PluginError> {
        let task = task.ok_or_else(|| PluginError::InvalidArgument("task is missing".into()))?;
        let engine_config = config.unwrap_or_else(|| EngineConfig {
            image: String::new(),
            resource_requests: None,
            resource_limits: None,
            timeout_seconds: 0,
            env: Vec::new(),
        });

        let image = if engine_config.image.is_empty() {
            config::get("default_image")
                .filter(|image| !image.is_empty())
                .unwrap_or_else(|| DEFAULT_IMAGE.into())
        } else {
            engine_config.image
        };

        let mut env = engine_config.env;
        for (name, value) in [
            ("TASK_ID", &task.id),
            ("TICKET_ID", &task.ticket_id),
            ("REPO_URL", &task.repo_url),
        ] {
            env.retain(|(existing, _)| existing != name);
            env.push((name.into(), value.clone()));
        }

        Ok(ExecutionSpec {
            image,
            command: vec!["robodev-agent".into(), "--task".into(), task.id],
            env,
            secret_env: secret_env()?,
            resource_requests: engine_config.resource_requests,
            resource_limits: engine_config.resource_limits,
            volumes: vec![VolumeMount {
                name: "workspace".into(),
                mount_path: "/workspace".into(),
                read_only: false,
            }],
            active_deadline_seconds: if engine_config.timeout_seconds > 0 {
                engine_config.timeout_seconds
            } else {
                DEFAULT_DEADLINE_SECONDS
            },
        })
    }

    fn build_prompt(task: Option<Task>) -> Result<String, PluginError> {
        let task = task.ok_or_else(|| PluginError::InvalidArgument("task is missing".into()))?;
        let labels = if task.labels.is_empty() {
            "(none)".into()
        } else {
            task.labels.join(", ")
        };
        Ok(format!(
            "# {title}\n\n\
             You are working on ticket {ticket_id} (task {task_id}) in the repository {repo_url}.\n\n\
             Labels: {labels}\n\n\
             ## Description\n\n\
             {description}\n\n\
             ## Instructions\n\n\
             Make the change the ticket asks for on a new branch, keep the tests passing, and \
             summarise what you did.\n",
            title = task.title,
            ticket_id = task.ticket_id,
            task_id = task.id,
            repo_url = task.repo_url,
            description = task.description.trim_end(),
        ))
    }
}

export!(Component);

/// The `secret_env` config key: a JSON object of variable name → secret reference.
fn secret_env() -> Result<Vec<(String, String)>, PluginError> {
    let Some(text) = config::get("secret_env") else {
        return Ok(Vec::new());
    };
    let invalid =
        |why: String| PluginError::FailedPrecondition(format!("config key secret_env: {why}"));
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| invalid(format!("not a JSON object: {e}")))?;
    // serde_json's map is sorted by key, which makes the spec deterministic.
    object
        .into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(reference) => Ok((name, reference)),
            other => Err(invalid(format!("{name} must be a string, got {other}"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_names_the_task() {
        let task = Task {
            id: "run-1".into(),
            ticket_id: "PROJ-7".into(),
            title: "Fix the login bug".into(),
            description: "Users cannot log in.\n".into(),
            repo_url: "https://github.com/acme/app".into(),
            labels: vec!["robodev".into(), "bug".into()],
            metadata: Vec::new(),
        };
        let prompt = Component::build_prompt(Some(task)).unwrap_or_default();
        for expected in [
            "# Fix the login bug",
            "Users cannot log in.",
            "https://github.com/acme/app",
            "robodev, bug",
            "PROJ-7",
        ] {
            assert!(
                prompt.contains(expected),
                "{expected:?} missing from {prompt}"
            );
        }
        assert!(matches!(
            Component::build_prompt(None),
            Err(PluginError::InvalidArgument(_))
        ));
    }
}
