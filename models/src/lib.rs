//! lockstep-models: the Azure Functions host and Event Hubs models, written
//! against lockstep's public API only.

pub mod eventhubs;
