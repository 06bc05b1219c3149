//! Integration tests that start real processes and talk over TCP and mDNS (see README).
