//! Engine: the container spec and prompt of an agent run (proto `robodev.v1.ExecutionEngine`,
//! WIT `robodev:engine/engine@1`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Error, PluginInfo};

/// The interface version this host implements.
pub const INTERFACE_VERSION: u32 = 1;

/// The work of an agent run (proto `Task`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Task {
    /// Task id.
    pub id: String,
    /// Ticket id.
    pub ticket_id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Repository URL.
    pub repo_url: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Free-form metadata.
    pub metadata: BTreeMap<String, String>,
}

/// Kubernetes resource quantities (proto `Resources`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Resources {
    /// CPU, e.g. "500m".
    pub cpu: String,
    /// Memory, e.g. "1Gi".
    pub memory: String,
}

/// The operator's engine configuration (proto `EngineConfig`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EngineConfig {
    /// Container image.
    pub image: String,
    /// Resource requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_requests: Option<Resources>,
    /// Resource limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<Resources>,
    /// Run timeout in seconds.
    pub timeout_seconds: i32,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
}

/// A volume mount (proto `VolumeMount`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VolumeMount {
    /// Volume name.
    pub name: String,
    /// Mount path.
    pub mount_path: String,
    /// Read-only mount.
    pub read_only: bool,
}

/// The agent Job's container spec (proto `ExecutionSpec`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecutionSpec {
    /// Container image.
    pub image: String,
    /// Command and arguments.
    pub command: Vec<String>,
    /// Plain environment variables.
    pub env: BTreeMap<String, String>,
    /// Variable name to secret reference.
    pub secret_env: BTreeMap<String, String>,
    /// Resource requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_requests: Option<Resources>,
    /// Resource limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<Resources>,
    /// Volumes.
    pub volumes: Vec<VolumeMount>,
    /// Job `activeDeadlineSeconds`.
    pub active_deadline_seconds: i32,
}

/// Request of `BuildExecutionSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct BuildExecutionSpecRequest {
    /// The task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// The engine configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<EngineConfig>,
}

/// Response of `BuildExecutionSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuildExecutionSpecResponse {
    /// The spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<ExecutionSpec>,
}

/// Request of `BuildPrompt`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct BuildPromptRequest {
    /// The task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
}

/// Response of `BuildPrompt`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuildPromptResponse {
    /// The prompt.
    pub prompt: String,
}

/// An execution engine, whichever runtime serves it.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Who the plugin is (the `Handshake` RPC).
    async fn handshake(&self) -> Result<PluginInfo, Error>;
    /// The container spec of an agent run.
    async fn build_execution_spec(
        &self,
        request: BuildExecutionSpecRequest,
    ) -> Result<BuildExecutionSpecResponse, Error>;
    /// The prompt of an agent run.
    async fn build_prompt(&self, request: BuildPromptRequest)
    -> Result<BuildPromptResponse, Error>;
}
