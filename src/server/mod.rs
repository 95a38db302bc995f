//! The server: everything from a TCP connection to a running, reloadable,
//! stoppable `kes server`.
//!
//! # Layout
//! - [`lifecycle`]: [`Builder`] → [`Running`]: keystore, key cache,
//!   telemetry, state, TLS and listener from [`Settings`](crate::config::Settings);
//!   stop and wait.
//! - [`reload`]: SIGHUP: re-read config, policies and TLS, swap atomically.
//! - [`dev`]: the throw-away setup of `kes server --dev`.
//! - [`listener`]: the accept loop and one connection's life.
//! - `limits`: the per-client-IP connection cap.
//! - `handshake`: plain-HTTP refusal and the TLS handshake, one deadline
//!   from TCP accept.
//! - [`timeouts`]: header-read, idle and stall timing of a connection.
//! - `io`: the connection's I/O, telling [`timeouts`] which protocol is
//!   spoken and when writes block.
//! - `body`: response bodies, telling [`timeouts`] when a response waits
//!   for its consumer.
//!
//! Requests go from [`listener`] to [`crate::api::handle`] with the
//! connection's [`Conn`](crate::auth::Conn); nothing below this module knows
//! about sockets.

mod body;
pub mod dev;
mod handshake;
mod io;
pub mod lifecycle;
mod limits;
pub mod listener;
pub mod reload;
pub mod timeouts;

pub use lifecycle::{Builder, Options, Running, StartError};
pub use listener::{SHUTDOWN_GRACE, Shared};
