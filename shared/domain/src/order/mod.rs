//! After the order (docs/DESIGN.md §13): what the exchange reports about a placed order (its fill), how that report
//! is recorded so it only moves forward, the ORDER EXECUTED message per fill increment, the reconciler that reads
//! the exchange for every order not yet final, and the positions ledger built from the recorded fills alone.
//!
//! This subject depends on `model`, `money`, `ids`, `ports` and `alerts`; nothing outside it depends on it except
//! the report (`invariants`) and the orchestrator's SELL check.

pub mod breaker;
pub mod fill;
pub mod follow;
pub mod ghosts;
pub mod ledger;
pub mod protect;
pub mod protection;

pub use fill::{Fill, FillUpdate, OpenOrder, OrderStatus, PlacedOrder, Reported};
pub use follow::{Followed, Follower};
pub use ledger::{Ledger, Position, RealizedPoint, Unrealized};
pub use protection::{Leg, Oco, OcoAck, OcoReport, Protection, ProtectionStatus};
