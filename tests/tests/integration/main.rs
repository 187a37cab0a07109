//! The integration tests against the local AWS emulator, in one test binary: the SDK is linked once, and the
//! tests of every module run side by side (`--test-threads`, the number of cores by default). Each test provisions
//! its own uniquely prefixed tables and queue (`tests::TestEnv`), so no two tests share state.
//!
//! Run one module with a filter: `cargo test -p tests --test integration contract::`.

// The storage contract and the DynamoDB adapter's conditional writes and reads.
mod contract;
mod costs;
mod reads;
mod risk;
mod storage;

// The functions over the emulator, alone and end to end.
mod diagnostics_api;
mod evaluator_throttle;
mod fills;
mod pipeline;
mod protection;
mod queue;
mod sweeper_repair;
mod takeover;

// Injected faults and whole outages.
mod faults;
mod outages;

// The built binaries as Lambda starts them, and the local Telegram sink.
mod runtime;
mod telegram_sink;

// The operator's scripts and the template: usage, argument checks, per-stack metrics.
mod scripts;
mod stacks;

mod support;
