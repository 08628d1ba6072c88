//! Loading and validating market data, maintenance brackets and signal files for Ringfence.
//!
//! This is the only crate that depends on polars; no polars type appears in its public API.
//! Everything it returns is a `ringfence-model` type.

pub mod adl_events;
pub mod archive;
pub mod bracket_library;
pub mod brackets;
pub mod claims;
pub mod error;
pub mod inspect;
pub mod load;
pub mod signals;
pub mod synth;
pub mod synth_scale;
pub mod tables;
pub mod testing;

pub use error::DataError;
