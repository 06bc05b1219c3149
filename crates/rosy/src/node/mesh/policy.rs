//! The domain's access rules at this node's end of every flow (secure mode, with an ACL):
//! what this node may do itself (refused with [`Error::Denied`] when it asks), and what each
//! peer may do with it: a topic goes to a peer only if the peer may subscribe to it, a peer's
//! message is taken only if it may publish it (from TCP or shared memory), a call goes only to a
//! provider that may provide the service and is served only for a caller that may call it.
//! Peers are known by the name their certificate granted them in the handshake.
//!
//! Refused messages are counted ([`Mesh::denied_count`]); each refused flow is said once per
//! peer, verb and name.
//! Without an ACL every check passes. The internal topics of same-host calls are not checked as
//! topics: the calls they carry are, by service name. This file decides nothing itself: the
//! provider's [`Policy`] does.

use super::{Mesh, lock, read};
use crate::error::{Error, Result};
use crate::node::service_channel;
use crate::topology::{NodeInfo, TopicRole};
use crate::transport::tcp::link::Link;
use crate::transport::tcp::secure::{Policy, Verb};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// How many denied flows are remembered (so each is said once) before they are only counted.
const SAID_MAX: usize = 1024;

impl Mesh {
    fn policy(&self) -> Option<&Arc<dyn Policy>> {
        self.config.policy.as_ref()
    }

    /// Whether the peer named `who` may `verb` `name` (always, without an ACL).
    pub(super) fn peer_may(&self, who: &str, verb: Verb, name: &str) -> bool {
        self.policy().is_none_or(|p| p.allows(who, verb, name))
    }

    /// Refuses what this node may not do itself, naming the rule's subject.
    pub(crate) fn check_own(&self, verb: Verb, name: &str) -> Result<()> {
        if self.peer_may(&self.hello.node_name, verb, name) {
            return Ok(());
        }
        Err(Error::Denied {
            node: self.hello.node_name.clone(),
            action: verb.to_string(),
            name: name.to_string(),
        })
    }

    /// Counts one message refused from a peer.
    pub(super) fn count_denied(&self) {
        self.routing.denied.fetch_add(1, Ordering::Relaxed);
    }

    /// Says once that the peer `who` may not `verb` `name` (a segment not read, a call not
    /// served...).
    pub(super) fn say_denied(&self, who: &str, verb: Verb, name: &str) {
        let key = (who.to_string(), verb.to_string(), name.to_string());
        let first = {
            let mut said = lock(&self.routing.denied_said);
            said.len() < SAID_MAX && said.insert(key)
        };
        if first {
            tracing::warn!(
                "the domain's ACL does not let node {who:?} {verb} {name:?}: refused (said once)"
            );
            // Announced for tools (`rosy topic info`), from a task of its own: this may be
            // called with the mesh's locks held, and announcing takes them.
            if let Some(mesh) = self.me.upgrade() {
                self.runtime.spawn(async move {
                    let list: Vec<_> = lock(&mesh.routing.denied_said).iter().cloned().collect();
                    mesh.update_own(|own| own.denied = list);
                });
            }
        }
    }

    /// A peer's node info without what the ACL does not let it do (each left out said once):
    /// what it announces is only a claim, and a claim it may not make is neither shown (in
    /// `rosy topic list`) nor routed to.
    pub(super) fn allowed_part(&self, who: &str, mut info: NodeInfo) -> NodeInfo {
        if self.policy().is_none() {
            return info;
        }
        let allowed = |verb: Verb, name: &str| {
            let ok = service_channel::is_internal(name) || self.peer_may(who, verb, name);
            if !ok {
                self.say_denied(who, verb, name);
            }
            ok
        };
        info.topics.retain(|t| {
            let verb = match t.role {
                TopicRole::Publish => Verb::Publish,
                TopicRole::Listen => Verb::Subscribe,
            };
            allowed(verb, &t.name)
        });
        info.services.retain(|s| allowed(Verb::Provide, &s.name));
        info.shm_topics.retain(|t| allowed(Verb::Publish, t));
        info
    }

    /// The domain's rules or credentials changed (a new ACL was loaded): routes are computed
    /// again, shared memory follows, and links to peers whose certificates are now revoked
    /// close.
    pub(crate) fn policy_changed(&self) {
        let Some(policy) = self.policy() else {
            return;
        };
        let revoked: Vec<Arc<Link>> = read(&self.peers.links)
            .values()
            .filter(|l| {
                l.identity
                    .as_ref()
                    .is_some_and(|id| policy.is_revoked(&id.serial))
            })
            .cloned()
            .collect();
        for link in revoked {
            tracing::warn!(
                "closing the link to {} ({}): its certificate is revoked by the domain's new ACL",
                link.peer.node_name,
                link.peer.node_id
            );
            link.close();
        }
        self.invalidate_routes();
        self.bump();
        self.sync_shm();
    }

    /// Flows refused from peers by the domain's ACL so far.
    pub fn denied_count(&self) -> u64 {
        self.routing.denied.load(Ordering::Relaxed)
    }
}
