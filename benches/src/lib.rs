//! Ringfence benchmark support: synthetic workloads, the floor kernel, the naive `Decimal`
//! reference and the demo scenario assembled from library calls.
//!
//! Used by the criterion benches (`benches/benches/engine.rs`) and the performance harness
//! (`cargo run --release -p ringfence-benches --bin perf -- [--quick]`); see `BENCHMARKS.md`.

pub mod copies;
pub mod demo;
pub mod floor;
pub mod reference;
pub mod timing;
pub mod workload;
