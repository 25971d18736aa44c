//! Explicit-state checkers for protocol models (placeholder).
