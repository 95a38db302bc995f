//! `kes`: a KES-compatible key encryption service (server and command line).
#![forbid(unsafe_code)]

pub mod crypto;
