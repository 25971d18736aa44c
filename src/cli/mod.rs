//! The command-line interface (placeholder).
