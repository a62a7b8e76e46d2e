//! Engine over a component exporting `robodev:engine/engine@1`.

use std::sync::Arc;

use async_trait::async_trait;
use robodev_core::engine::*;
use robodev_core::{Error, PluginInfo};

use super::invoke;
use crate::bindings::guest::engine::engine as w;
use crate::plugin::PluginInner;

pub(crate) struct Adapter(pub(crate) Arc<PluginInner>);

fn task_in(t: Task) -> w::Task {
    w::Task {
        id: t.id,
        ticket_id: t.ticket_id,
        title: t.title,
        description: t.description,
        repo_url: t.repo_url,
        labels: t.labels,
        metadata: t.metadata.into_iter().collect(),
    }
}

fn resources_in(r: Resources) -> w::Resources {
    w::Resources {
        cpu: r.cpu,
        memory: r.memory,
    }
}

fn resources_out(r: w::Resources) -> Resources {
    Resources {
        cpu: r.cpu,
        memory: r.memory,
    }
}

#[async_trait]
impl Backend for Adapter {
    async fn handshake(&self) -> Result<PluginInfo, Error> {
        Ok(self.0.info())
    }

    async fn build_execution_spec(
        &self,
        r: BuildExecutionSpecRequest,
    ) -> Result<BuildExecutionSpecResponse, Error> {
        let task = r.task.map(task_in);
        let config = r.config.map(|c| w::EngineConfig {
            image: c.image,
            resource_requests: c.resource_requests.map(resources_in),
            resource_limits: c.resource_limits.map(resources_in),
            timeout_seconds: c.timeout_seconds,
            env: c.env.into_iter().collect(),
        });
        let answer = invoke!(self.0, Engine, "build-execution-spec", |g, s| g
            .call_build_execution_spec(s, task.as_ref(), config.as_ref()))?;
        self.0.answer(answer, |spec| {
            Ok(BuildExecutionSpecResponse {
                spec: Some(ExecutionSpec {
                    image: spec.image,
                    command: spec.command,
                    env: spec.env.into_iter().collect(),
                    secret_env: spec.secret_env.into_iter().collect(),
                    resource_requests: spec.resource_requests.map(resources_out),
                    resource_limits: spec.resource_limits.map(resources_out),
                    volumes: spec
                        .volumes
                        .into_iter()
                        .map(|v| VolumeMount {
                            name: v.name,
                            mount_path: v.mount_path,
                            read_only: v.read_only,
                        })
                        .collect(),
                    active_deadline_seconds: spec.active_deadline_seconds,
                }),
            })
        })
    }

    async fn build_prompt(&self, r: BuildPromptRequest) -> Result<BuildPromptResponse, Error> {
        let task = r.task.map(task_in);
        let answer = invoke!(self.0, Engine, "build-prompt", |g, s| g
            .call_build_prompt(s, task.as_ref()))?;
        self.0
            .answer(answer, |prompt| Ok(BuildPromptResponse { prompt }))
    }
}
