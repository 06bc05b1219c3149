//! Shared-memory transport: named segments, an SPMC ring of slots, a payload pool and futex
//! wake-ups. See DESIGN.md, "Shared memory transport".
