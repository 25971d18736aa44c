//! Benchmarks of the protocol checker on host-abstract.
