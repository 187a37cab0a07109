//! What runs over the ports: the orchestrator's state machine (`orchestration`: claim → size → place → finalize),
//! the fill's follow-up (`follow`), the protection of a filled BUY (`protect`), the loss breaker (`breaker`), the kill
//! switch's commands and the circuit breaker (`trading`), the check for orders nobody asked for (`ghosts`), and outbox
//! delivery (`deliver`).

pub mod breaker;
pub mod deliver;
pub mod follow;
pub mod ghosts;
pub mod orchestration;
pub mod protect;
pub mod trading;
