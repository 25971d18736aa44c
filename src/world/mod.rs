//! (placeholder)

pub mod checkpoint_store;
pub mod eventhubs;
