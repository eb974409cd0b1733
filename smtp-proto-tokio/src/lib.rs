//! Adapter crate (filled in by the adapter issue).
