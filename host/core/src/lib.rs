//! `robodev-core`: the domain of robodev's plugin system, free of any runtime.
//!
//! - One module per plugin interface ([`ticketing`], [`notifications`], [`approval`],
//!   [`secrets`], [`scm`], [`review`], [`engine`]), each with the request and response types of
//!   its RPCs and one async, object-safe `Backend` trait. Built-in Rust backends, Wasm
//!   components and go-plugin subprocesses all implement these traits, so callers cannot tell
//!   which runtime serves them.
//! - [`Interface`]: the closed set of interfaces, their versions and method names.
//! - [`Error`]: the three outcomes of a call (domain error, plugin failure, host error) plus
//!   load refusals, as typed variants.
//! - [`AnyBackend`]: a backend of any interface, callable by method name with proto3 JSON.
//!
//! ```
//! use robodev_core::{Interface, ticketing::PollReadyTicketsRequest};
//!
//! assert_eq!(Interface::Scm.version(), 2);
//! assert_eq!(Interface::Ticketing.method("PollReadyTickets").unwrap().wit, "poll-ready-tickets");
//! let req: PollReadyTicketsRequest =
//!     serde_json::from_str(r#"{"labels":["robodev"],"maxResults":10}"#).unwrap();
//! assert_eq!(req.max_results, 10);
//! ```

pub mod approval;
pub mod disk;
mod dispatch;
pub mod engine;
mod error;
mod health;
mod interface;
pub mod json;
pub mod notifications;
pub mod review;
pub mod scm;
pub mod secrets;
pub mod ticketing;
mod types;

pub use dispatch::AnyBackend;
pub use error::{
    Cause, Error, ErrorCode, Failure, HandshakeProblem, Outcome, PluginError, Refusal,
};
pub use health::Health;
pub use interface::{Interface, Method, RuntimeKind, UnknownInterface};
pub use types::{Empty, PluginInfo, TaskResult, Ticket, TokenUsage};
