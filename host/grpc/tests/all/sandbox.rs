//! Confined subprocess plugins.
