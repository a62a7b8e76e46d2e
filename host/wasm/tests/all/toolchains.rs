//! Components built by other toolchains (Python, JavaScript) load and serve like Rust ones.
