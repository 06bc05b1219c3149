//! Same-host delivery through shared memory: the machinery the mesh uses, in one place.
//!
//! A node that sends on a topic some same-host, shm-capable node listens to creates a segment
//! for it (`segment_name(domain, own id, topic)`) and lists the topic in its `shm_topics`. A
//! listener that sees this attaches the segment to its one reader thread (which sleeps on the
//! node's doorbell, rung by every writer it reads: threads do not grow with topics) and lists
//! `(publisher, topic)` in its `shm_reading`; from then on the publisher routes that listener's
//! messages through the segment instead of TCP. Until then they go by TCP, so nothing is lost
//! while a reader attaches; the listener holds what it reads from the segment until the
//! publisher's `ShmSwitch` says TCP has delivered what came before (`shm_switch.rs`).
//!
//! Each message in a segment starts with a 64-byte prefix naming its recipients (load
//! balancing picks among same-name listeners per message, and every reader sees every slot):
//! `[count u8][codec u8][6 reserved][7 × u64 recipient id hashes]`, then the payload, which so
//! stays 64-byte aligned for in-place reads.
//!
//! - `prefix`: the 64-byte head of every message, naming its codec and recipients;
//! - `routes`: [`ShmRoutes`], this node's segments and the segments it reads;
//! - `reader`: the reader thread, its staging for full reliable subscriptions, and
//!   `SegmentSink`, the one seam through which it hands messages to the mesh (as a TCP link
//!   does through `FrameSink`);
//! - `state`: `SameHost`, the mesh's same-host part as data (segments and reader, the
//!   switches made, the gates that hold what shared memory reads until TCP is drained).
//!
//! Nothing here sees the mesh: the mesh's side (which segments to make and read, opening the
//! gates, what the node announces, the `SegmentSink` it implements) is `shm_attach.rs`, and the
//! `ShmSwitch` marker a publisher queues on a link is `shm_switch.rs`, beside this folder.

pub(super) mod prefix;
pub(super) mod reader;
pub(super) mod routes;
pub(super) mod state;
