//! robodev-kube against a real kube-apiserver with etcd on loopback (built from source by
//! scripts/build-kube; robodev-test-support's `kube` starts it). No kubelet or Job controller
//! runs: the tests play them, writing pods, their termination messages and Job status through
//! the API, as those would.

#![expect(
    clippy::unwrap_used,
    reason = "tests fail loudly on the first unexpected value"
)]

mod executor;
mod lease;
mod secrets;
mod support;
mod taskruns;
