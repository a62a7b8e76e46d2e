//! `robodev-kube`: robodev on Kubernetes. [`KubernetesExecutor`] runs each agent attempt as a
//! batch/v1 Job ([`job`]: RoboDev's Job conventions, made safe), follows it with a watch and
//! reads the agent's result from its termination message.

pub mod executor;
pub mod job;
pub mod lease;
pub mod names;

pub use executor::{KubeError, KubernetesExecutor};
pub use job::{JobSettings, JobSpecError};
