//! lockstep-models: the Azure Functions host and Event Hubs models, written
//! against lockstep's public API only.

pub mod bench;
pub mod bench_host;
pub mod breaker;
pub mod eventhubs;
pub mod host;
pub mod host_abstract;
pub mod hostlog;
pub mod migration;
pub mod plugin;
pub mod registry;
