//! Bags: recordings of topic messages as MCAP files.
