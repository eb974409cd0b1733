//! Cross-adapter loopback tests (filled in by the adapter issue).
