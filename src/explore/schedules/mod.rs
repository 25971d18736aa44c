//! Schedule explorers for implementation models (placeholder).
