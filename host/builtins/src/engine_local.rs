//! Engine `local`: runs a command of the operator's choosing as the agent, with the task in
//! its environment and a markdown prompt built from the ticket.
//!
//! ```yaml
//! engine:
//!   backend: local
//!   config:
//!     command: [my-agent, --non-interactive]   # required: program and arguments
//! ```
//!
//! The execution spec takes the image, resources, timeout and environment from the
//! operator's [`EngineConfig`] and adds the task's identity as [`TASK_ID_VAR`],
//! [`TICKET_ID_VAR`], [`REPO_URL_VAR`] and [`TASK_TITLE_VAR`] (these win over a configured
//! variable of the same name: they are robodev's contract with the agent).

use async_trait::async_trait;
use robodev_core::engine::{
    Backend, BuildExecutionSpecRequest, BuildExecutionSpecResponse, BuildPromptRequest,
    BuildPromptResponse, ExecutionSpec, Task,
};
use robodev_core::{Error, ErrorCode, Interface, PluginInfo};
use serde::Deserialize;
use serde_json::Value;

use super::{BuiltinConfigError, Schema, plugin_error};

/// The built-in's name.
pub const NAME: &str = "local";

/// The variable holding the task's id.
pub const TASK_ID_VAR: &str = "ROBODEV_TASK_ID";
/// The variable holding the ticket's id.
pub const TICKET_ID_VAR: &str = "ROBODEV_TICKET_ID";
/// The variable holding the repository URL.
pub const REPO_URL_VAR: &str = "ROBODEV_REPO_URL";
/// The variable holding the task's title.
pub const TASK_TITLE_VAR: &str = "ROBODEV_TASK_TITLE";

const INTERFACE: Interface = Interface::Engine;

const SCHEMA: Schema = Schema {
    name: NAME,
    known: &["command"],
    required: &["command"],
};

/// The options of engine `local`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The program to run and its arguments.
    pub command: Vec<String>,
}

impl Options {
    /// Parses and checks the options from a `config:` map.
    pub fn from_config(config: &Value) -> Result<Options, BuiltinConfigError> {
        let options: Options = super::parse_options(&SCHEMA, config)?;
        match options.command.first() {
            None => Err(BuiltinConfigError::new(
                "command",
                "must hold at least the program to run",
            )),
            Some(program) if program.is_empty() => Err(BuiltinConfigError::new(
                "command[0]",
                "the program must not be empty",
            )),
            Some(_) => Ok(options),
        }
    }
}

/// Engine `local`.
#[derive(Debug, Clone)]
pub struct LocalEngine {
    command: Vec<String>,
}

impl LocalEngine {
    /// An engine with these options.
    pub fn new(options: Options) -> Self {
        LocalEngine {
            command: options.command,
        }
    }
}

fn require_task(task: Option<Task>) -> Result<Task, Error> {
    task.ok_or_else(|| {
        plugin_error(
            NAME,
            INTERFACE,
            ErrorCode::InvalidArgument,
            "the request has no task",
        )
    })
}

/// The prompt of `task`: a markdown document, the same for the same task. Empty fields are
/// left out rather than shown empty, so the agent is not told about a repository "".
pub fn prompt(task: &Task) -> String {
    let mut out = String::new();
    let heading = if task.title.is_empty() {
        format!("Ticket {}", task.ticket_id)
    } else {
        task.title.clone()
    };
    out.push_str(&format!("# {heading}\n\n"));
    let facts = [
        ("Ticket", task.ticket_id.clone()),
        ("Repository", task.repo_url.clone()),
        ("Labels", task.labels.join(", ")),
    ];
    let mut any = false;
    for (name, value) in facts {
        if !value.is_empty() {
            out.push_str(&format!("- {name}: {value}\n"));
            any = true;
        }
    }
    if any {
        out.push('\n');
    }
    if !task.description.trim().is_empty() {
        out.push_str("## Description\n\n");
        out.push_str(task.description.trim());
        out.push_str("\n\n");
    }
    out.push_str("## What to do\n\n");
    out.push_str(
        "Make the change this ticket asks for in the repository. Work on a new branch, commit \
         your change, and end with a short summary of what you changed and why.\n",
    );
    out
}

#[async_trait]
impl Backend for LocalEngine {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(super::plugin_info(NAME))
    }

    async fn build_execution_spec(
        &self,
        request: BuildExecutionSpecRequest,
    ) -> Result<BuildExecutionSpecResponse, Error> {
        let task = require_task(request.task)?;
        // The local engine needs no image or limits, so a missing config is an empty one.
        let config = request.config.unwrap_or_default();
        let mut env = config.env;
        for (name, value) in [
            (TASK_ID_VAR, task.id),
            (TICKET_ID_VAR, task.ticket_id),
            (REPO_URL_VAR, task.repo_url),
            (TASK_TITLE_VAR, task.title),
        ] {
            env.insert(name.to_owned(), value);
        }
        Ok(BuildExecutionSpecResponse {
            spec: Some(ExecutionSpec {
                image: config.image,
                command: self.command.clone(),
                env,
                secret_env: Default::default(),
                resource_requests: config.resource_requests,
                resource_limits: config.resource_limits,
                volumes: Vec::new(),
                active_deadline_seconds: config.timeout_seconds,
            }),
        })
    }

    async fn build_prompt(
        &self,
        request: BuildPromptRequest,
    ) -> Result<BuildPromptResponse, Error> {
        let task = require_task(request.task)?;
        Ok(BuildPromptResponse {
            prompt: prompt(&task),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn options() {
        assert_eq!(
            Options::from_config(&json!({"command": ["agent", "-v"]})).unwrap(),
            Options {
                command: vec!["agent".into(), "-v".into()]
            }
        );
        assert_eq!(
            Options::from_config(&json!({})).unwrap_err(),
            BuiltinConfigError::new("command", "`local` requires the option `command`")
        );
        assert_eq!(
            Options::from_config(&json!({"command": []})).unwrap_err(),
            BuiltinConfigError::new("command", "must hold at least the program to run")
        );
        assert_eq!(
            Options::from_config(&json!({"command": ["", "x"]})).unwrap_err(),
            BuiltinConfigError::new("command[0]", "the program must not be empty")
        );
        assert_eq!(
            Options::from_config(&json!({"command": "agent -v"})).unwrap_err(),
            BuiltinConfigError::new(
                "command",
                "invalid type: string \"agent -v\", expected a sequence"
            )
        );
        assert_eq!(
            Options::from_config(&json!({"command": ["a"], "comand": ["b"]})).unwrap_err(),
            BuiltinConfigError::new(
                "comand",
                "unknown option `comand` of `local`; did you mean `command`?"
            )
        );
    }

    #[test]
    fn prompt_of_a_bare_task_leaves_out_empty_fields() {
        let task = Task {
            ticket_id: "7".into(),
            ..Task::default()
        };
        assert_eq!(
            prompt(&task),
            "# Ticket 7\n\n- Ticket: 7\n\n## What to do\n\nMake the change this ticket asks for in the repository. Work on a new branch, commit your change, and end with a short summary of what you changed and why.\n"
        );
    }
}
