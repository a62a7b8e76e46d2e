//! robodev-controller's integration tests.
