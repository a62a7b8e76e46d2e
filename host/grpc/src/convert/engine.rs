//! Engine messages (`engine.proto`) ↔ `robodev_core::engine`.

use robodev_core::engine::{
    BuildExecutionSpecRequest, BuildExecutionSpecResponse, BuildPromptRequest, BuildPromptResponse,
    EngineConfig, ExecutionSpec, Resources, Task, VolumeMount,
};

use super::{each, plain};
use crate::pb::rd as pb;

plain! {
    Resources <=> Resources { cpu, memory }
    VolumeMount <=> VolumeMount { name, mount_path, read_only }
    BuildPromptResponse <=> BuildPromptResponse { prompt }
}

impl From<Task> for pb::Task {
    fn from(t: Task) -> Self {
        let Task {
            id,
            ticket_id,
            title,
            description,
            repo_url,
            labels,
            metadata,
        } = t;
        pb::Task {
            id,
            ticket_id,
            title,
            description,
            repo_url,
            labels,
            metadata: metadata.into_iter().collect(),
        }
    }
}

impl From<pb::Task> for Task {
    fn from(t: pb::Task) -> Self {
        let pb::Task {
            id,
            ticket_id,
            title,
            description,
            repo_url,
            labels,
            metadata,
        } = t;
        Task {
            id,
            ticket_id,
            title,
            description,
            repo_url,
            labels,
            metadata: metadata.into_iter().collect(),
        }
    }
}

impl From<EngineConfig> for pb::EngineConfig {
    fn from(c: EngineConfig) -> Self {
        let EngineConfig {
            image,
            resource_requests,
            resource_limits,
            timeout_seconds,
            env,
        } = c;
        pb::EngineConfig {
            image,
            resource_requests: resource_requests.map(Into::into),
            resource_limits: resource_limits.map(Into::into),
            timeout_seconds,
            env: env.into_iter().collect(),
        }
    }
}

impl From<pb::EngineConfig> for EngineConfig {
    fn from(c: pb::EngineConfig) -> Self {
        let pb::EngineConfig {
            image,
            resource_requests,
            resource_limits,
            timeout_seconds,
            env,
        } = c;
        EngineConfig {
            image,
            resource_requests: resource_requests.map(Into::into),
            resource_limits: resource_limits.map(Into::into),
            timeout_seconds,
            env: env.into_iter().collect(),
        }
    }
}

impl From<ExecutionSpec> for pb::ExecutionSpec {
    fn from(s: ExecutionSpec) -> Self {
        let ExecutionSpec {
            image,
            command,
            env,
            secret_env,
            resource_requests,
            resource_limits,
            volumes,
            active_deadline_seconds,
        } = s;
        pb::ExecutionSpec {
            image,
            command,
            env: env.into_iter().collect(),
            secret_env: secret_env.into_iter().collect(),
            resource_requests: resource_requests.map(Into::into),
            resource_limits: resource_limits.map(Into::into),
            volumes: each(volumes),
            active_deadline_seconds,
        }
    }
}

impl From<pb::ExecutionSpec> for ExecutionSpec {
    fn from(s: pb::ExecutionSpec) -> Self {
        let pb::ExecutionSpec {
            image,
            command,
            env,
            secret_env,
            resource_requests,
            resource_limits,
            volumes,
            active_deadline_seconds,
        } = s;
        ExecutionSpec {
            image,
            command,
            env: env.into_iter().collect(),
            secret_env: secret_env.into_iter().collect(),
            resource_requests: resource_requests.map(Into::into),
            resource_limits: resource_limits.map(Into::into),
            volumes: each(volumes),
            active_deadline_seconds,
        }
    }
}

impl From<BuildExecutionSpecRequest> for pb::BuildExecutionSpecRequest {
    fn from(r: BuildExecutionSpecRequest) -> Self {
        let BuildExecutionSpecRequest { task, config } = r;
        pb::BuildExecutionSpecRequest {
            task: task.map(Into::into),
            config: config.map(Into::into),
        }
    }
}

impl From<pb::BuildExecutionSpecRequest> for BuildExecutionSpecRequest {
    fn from(r: pb::BuildExecutionSpecRequest) -> Self {
        let pb::BuildExecutionSpecRequest { task, config } = r;
        BuildExecutionSpecRequest {
            task: task.map(Into::into),
            config: config.map(Into::into),
        }
    }
}

impl From<BuildExecutionSpecResponse> for pb::BuildExecutionSpecResponse {
    fn from(r: BuildExecutionSpecResponse) -> Self {
        let BuildExecutionSpecResponse { spec } = r;
        pb::BuildExecutionSpecResponse {
            spec: spec.map(Into::into),
        }
    }
}

impl From<pb::BuildExecutionSpecResponse> for BuildExecutionSpecResponse {
    fn from(r: pb::BuildExecutionSpecResponse) -> Self {
        let pb::BuildExecutionSpecResponse { spec } = r;
        BuildExecutionSpecResponse {
            spec: spec.map(Into::into),
        }
    }
}

impl From<BuildPromptRequest> for pb::BuildPromptRequest {
    fn from(r: BuildPromptRequest) -> Self {
        let BuildPromptRequest { task } = r;
        pb::BuildPromptRequest {
            task: task.map(Into::into),
        }
    }
}

impl From<pb::BuildPromptRequest> for BuildPromptRequest {
    fn from(r: pb::BuildPromptRequest) -> Self {
        let pb::BuildPromptRequest { task } = r;
        BuildPromptRequest {
            task: task.map(Into::into),
        }
    }
}
