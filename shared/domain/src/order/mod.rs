//! The order (docs/DESIGN.md §3, §13, §14): the intent a signal's claim writes (`intent`), what the exchange reports
//! about the placed order (`fill`), a filled BUY's stop-loss and take-profit (`protection`), and the positions ledger
//! built from the recorded fills alone (`ledger`). Records and pure rules only: the steps that read the exchange and
//! write these records are in `flow`.

pub mod fill;
pub mod intent;
pub mod ledger;
pub mod protection;

pub use fill::{Fill, FillUpdate, OpenOrder, OrderStatus, PlacedOrder, Reported};
pub use intent::{ExecutionMode, IntentStatus, OrderIntent};
pub use ledger::{Ledger, Position, RealizedPoint, Unrealized};
pub use protection::{Leg, Oco, OcoAck, OcoReport, Protection, ProtectionStatus};
