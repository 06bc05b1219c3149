//! Transports: how bytes move between nodes. `shm` for nodes on one host, `tcp` for the rest.
//! Nothing here knows about topics' types or codecs: a transport moves opaque byte payloads.

pub mod shm;
pub mod tcp;
