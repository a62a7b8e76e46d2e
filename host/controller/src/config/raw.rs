//! The raw, serde form of robodev-config.yaml.
