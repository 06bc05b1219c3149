//! Integration tests of the shared-memory transport with real processes (see README).
