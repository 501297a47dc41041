//! Benchmarks live in `cgroup.rs` etc.; this library is empty on purpose.
