//! The invariants report (`invariants`, docs/DESIGN.md §8) and the metrics it is published as (`metrics`).

pub mod invariants;
pub mod metrics;
