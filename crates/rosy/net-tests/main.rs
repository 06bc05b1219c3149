//! Integration tests that start real processes and talk over TCP and mDNS.
//!
//! Every test runs in a domain of its own, on loopback only (`ROSY_INTERFACES=lo`), bounds every
//! wait, and kills what it started. `namespaces` builds two network namespaces joined by a veth
//! pair to prove discovery and TCP across "hosts" (needs root, as CI has).

mod bad_input;
mod flood;
mod mesh;
mod namespaces;
use rosy_test_support as support;
