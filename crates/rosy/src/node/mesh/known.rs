//! What discovery said of one peer, kept per source, and the addresses to dial it at.
//!
//! Discovery is a hint, never trusted: anyone on the LAN speaks mDNS (a secure node's tag
//! travels in the clear), so anyone can announce another node's id at an address of its own,
//! or say goodbye in its name. What one announcement says therefore never erases what the
//! other source said: the registry (this host's processes only; this user's only, in secure
//! mode) and mDNS are kept apart, and a goodbye removes only its own source's part. mDNS
//! addresses of one peer accumulate (a peer's addresses arrive in steps anyway), newest first,
//! at most [`MDNS_ENDPOINTS`]. The address where a dial last reached the peer itself (the node
//! there proved the id in the handshake, by certificate in secure mode) is tried first, so an
//! address made up by someone else costs a dial at most, never the peer.
//!
//! This file never dials: `links.rs` asks it where to.

use crate::discovery::{Announcement, Source};
use std::net::SocketAddr;

/// mDNS addresses kept per peer: more than a host has interfaces, few enough that a flood of
/// announcements cannot grow them.
pub(super) const MDNS_ENDPOINTS: usize = 8;

/// What discovery said of one peer.
#[derive(Clone, Debug, Default)]
pub(super) struct KnownPeer {
    registry: Option<Announcement>,
    /// The last mDNS announcement, its endpoints those of every one heard (newest first).
    mdns: Option<Announcement>,
    /// Where a dial last reached this peer.
    proven: Option<SocketAddr>,
    /// The peer said goodbye on its own link: it is closing and is not dialed again, whatever
    /// discovery still says until its entries go.
    left: bool,
}

impl KnownPeer {
    /// Takes in what `source` says of the peer now. `own_host` is this node's host id: a
    /// loopback address is kept only from an announcement of this host.
    pub(super) fn heard(&mut self, mut a: Announcement, source: Source, own_host: &str) {
        a.endpoints = usable(&a, own_host);
        match source {
            Source::Registry => self.registry = Some(a),
            Source::Mdns => {
                let before = self.mdns.take().map(|b| b.endpoints).unwrap_or_default();
                // The proven address stays among the kept ones, whatever comes after it.
                let keep = self
                    .proven
                    .filter(|p| before.contains(p) && !a.endpoints.contains(p));
                if keep.is_some() {
                    a.endpoints.truncate(MDNS_ENDPOINTS - 1);
                }
                a.endpoints.extend(keep);
                for e in before {
                    if !a.endpoints.contains(&e) {
                        a.endpoints.push(e);
                    }
                }
                a.endpoints.truncate(MDNS_ENDPOINTS);
                self.mdns = Some(a);
            }
        }
    }

    /// `source` says the peer is gone; `true` when no source reports it any more. The registry
    /// holds every node of this host: its goodbye (or a dead writer's entry) ends what mDNS
    /// said of the peer too when that was announced from this host.
    pub(super) fn gone(&mut self, source: Source, own_host: &str) -> bool {
        match source {
            Source::Registry => {
                self.registry = None;
                if self.mdns.as_ref().is_some_and(|a| a.host_id == own_host) {
                    self.mdns = None;
                }
            }
            Source::Mdns => self.mdns = None,
        }
        self.registry.is_none() && self.mdns.is_none()
    }

    /// What the peer announces of itself: its registry entry's if there is one (this host's
    /// word), else its last mDNS announcement. `None` once every source said goodbye.
    pub(super) fn announcement(&self) -> Option<&Announcement> {
        self.registry.as_ref().or(self.mdns.as_ref())
    }

    /// The peer said, on its own (authenticated, in secure mode) link, that it is closing.
    pub(super) fn said_goodbye(&mut self) {
        self.left = true;
    }

    /// Whether the peer is worth dialing: it has not said goodbye.
    pub(super) fn dialable(&self) -> bool {
        !self.left
    }

    /// Remembers that a dial to `addr` reached the peer itself.
    pub(super) fn proven_at(&mut self, addr: SocketAddr) {
        self.proven = Some(addr);
    }

    /// The addresses to dial, best first: where the peer was reached last, then the registry's
    /// (loopback first), then mDNS's (newest first).
    pub(super) fn dial_order(&self) -> Vec<SocketAddr> {
        let mut from_registry: Vec<SocketAddr> = self
            .registry
            .iter()
            .flat_map(|a| a.endpoints.iter().copied())
            .collect();
        from_registry.sort_by_key(|a| (!a.ip().is_loopback(), a.is_ipv6()));
        let mut order: Vec<SocketAddr> = Vec::new();
        let announced = from_registry
            .into_iter()
            .chain(self.mdns.iter().flat_map(|a| a.endpoints.iter().copied()));
        for addr in self.proven.into_iter().chain(announced) {
            if !order.contains(&addr) {
                order.push(addr);
            }
        }
        // A proven address no source still announces is not dialed (the peer moved).
        if let Some(p) = self.proven
            && !self.announces(p)
        {
            order.retain(|a| *a != p);
        }
        order
    }

    fn announces(&self, addr: SocketAddr) -> bool {
        [&self.registry, &self.mdns]
            .into_iter()
            .flatten()
            .any(|a| a.endpoints.contains(&addr))
    }
}

/// The endpoints of `a` worth dialing from this host: never loopback when `a` is another host's
/// (that would reach some other process here).
fn usable(a: &Announcement, own_host: &str) -> Vec<SocketAddr> {
    let same_host = a.host_id == own_host;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for e in &a.endpoints {
        if (same_host || !e.ip().is_loopback()) && !addrs.contains(e) {
            addrs.push(*e);
        }
    }
    addrs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement(host: &str, endpoints: &[&str]) -> Announcement {
        Announcement {
            id: "peer".into(),
            name: "camera".into(),
            domain: "d".into(),
            host_id: host.into(),
            pid: 1,
            endpoints: endpoints.iter().map(|e| e.parse().unwrap()).collect(),
            version: 1,
            tool: false,
            dial_only: false,
        }
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|e| e.parse().unwrap()).collect()
    }

    #[test]
    fn an_mdns_announcement_of_the_same_id_adds_addresses_and_never_replaces_the_registrys() {
        let mut peer = KnownPeer::default();
        peer.heard(
            announcement("here", &["127.0.0.1:7000", "10.0.0.2:7000"]),
            Source::Registry,
            "here",
        );
        // Someone else's announcement of this id, from another host, at its own address.
        peer.heard(
            announcement("there", &["10.0.0.66:6666", "127.0.0.1:6666"]),
            Source::Mdns,
            "here",
        );
        assert_eq!(
            peer.dial_order(),
            addrs(&["127.0.0.1:7000", "10.0.0.2:7000", "10.0.0.66:6666"]),
            "the registry's first, the mDNS one after, and no loopback of another host"
        );
        assert_eq!(peer.announcement().unwrap().host_id, "here");
        // Its goodbye removes its own part only.
        assert!(!peer.gone(Source::Mdns, "here"));
        assert_eq!(
            peer.dial_order(),
            addrs(&["127.0.0.1:7000", "10.0.0.2:7000"])
        );
        assert!(peer.gone(Source::Registry, "here"));
        assert!(peer.announcement().is_none());
    }

    #[test]
    fn the_registrys_goodbye_ends_what_mdns_said_from_this_host_only() {
        let mut here = KnownPeer::default();
        here.heard(
            announcement("here", &["127.0.0.1:7000"]),
            Source::Registry,
            "here",
        );
        here.heard(
            announcement("here", &["10.0.0.2:7000"]),
            Source::Mdns,
            "here",
        );
        assert!(
            here.gone(Source::Registry, "here"),
            "a node of this host is gone"
        );
        let mut there = KnownPeer::default();
        there.heard(
            announcement("here", &["127.0.0.1:7000"]),
            Source::Registry,
            "here",
        );
        there.heard(
            announcement("there", &["10.0.0.3:7000"]),
            Source::Mdns,
            "here",
        );
        assert!(!there.gone(Source::Registry, "here"));
        assert_eq!(there.dial_order(), addrs(&["10.0.0.3:7000"]));
    }

    #[test]
    fn mdns_addresses_accumulate_newest_first_and_stay_bounded() {
        let mut peer = KnownPeer::default();
        for i in 0..20 {
            let e = format!("10.0.0.{i}:7000");
            peer.heard(announcement("there", &[&e]), Source::Mdns, "here");
        }
        let order = peer.dial_order();
        assert_eq!(order.len(), MDNS_ENDPOINTS);
        assert_eq!(order[0], "10.0.0.19:7000".parse::<SocketAddr>().unwrap());
    }

    #[test]
    fn the_address_that_reached_the_peer_goes_first_while_announced() {
        let mut peer = KnownPeer::default();
        peer.heard(
            announcement("there", &["10.0.0.2:7000"]),
            Source::Mdns,
            "here",
        );
        peer.proven_at("10.0.0.2:7000".parse::<SocketAddr>().unwrap());
        // A flood of other addresses for its id cannot push it out of first place...
        for i in 100..120 {
            let e = format!("10.0.0.{i}:6666");
            peer.heard(announcement("there", &[&e]), Source::Mdns, "here");
        }
        assert_eq!(
            peer.dial_order()[0],
            "10.0.0.2:7000".parse::<SocketAddr>().unwrap()
        );
        // ...but once no source announces it any more, it is not dialed.
        peer.heard(
            announcement("here", &["127.0.0.1:7001"]),
            Source::Registry,
            "here",
        );
        assert!(!peer.gone(Source::Mdns, "here"));
        assert_eq!(peer.dial_order(), addrs(&["127.0.0.1:7001"]));
    }
}
