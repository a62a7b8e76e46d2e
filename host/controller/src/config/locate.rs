//! Line numbers for key paths.
