//! `robodev-kube`: robodev on Kubernetes. [`KubernetesExecutor`] runs each agent attempt as a
//! batch/v1 Job ([`job`]: RoboDev's Job conventions, made safe), follows it with a watch and
//! reads the agent's result from its termination message. [`taskruns::CrdStore`] keeps the
//! task runs as TaskRun custom resources, so that a restarted or new leader resumes them.

pub mod executor;
pub mod job;
pub mod lease;
pub mod names;
pub mod taskruns;

pub use executor::{KubeError, KubernetesExecutor};
pub use job::{JobSettings, JobSpecError};
