//! The test API server and the kubelet's and Job controller's parts, from robodev-test-support.

pub use robodev_test_support::kube::{End, admin, client_of, cluster, finish, namespace};
