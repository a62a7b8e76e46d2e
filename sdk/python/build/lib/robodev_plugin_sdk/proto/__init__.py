"""The stubs of robodev's gRPC contract (robodev.v1), go-plugin's own services (plugin.*)
and gRPC health, generated from proto/ by scripts/build-python-plugins. Do not edit."""
