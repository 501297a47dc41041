//! Scenarios, the product: `limitcheck run scenarios/cpu-halving.toml`.
//!
//! A scenario ([`model`]) starts containers (the runtime crate, host-made rootfs) running
//! workloads (the workload crate), changes limits on a timeline, samples what the kernel gives
//! from the host ([`sample`]), and judges each expectation ([`verdict`]). [`runner`] writes
//! `summary.json` and `samples.csv` for the reports.

#![deny(missing_docs)]

pub mod driver;
pub mod error;
pub mod host;
pub mod kernel;
pub mod lane;
pub mod model;
pub mod owner;
pub mod pod;
pub mod runner;
pub mod sample;
pub mod suite;
pub mod verdict;
pub mod witness;

pub use error::RunError;
