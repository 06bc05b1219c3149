//! Sites: what each bridge tells the others about its own mesh (its nodes, the services it
//! lets others call), announced every [`ANNOUNCE_EVERY`] on its `@bridge` key, and what it
//! hears of theirs. A site not heard for [`FORGET_AFTER`] is gone (its bridge, or the way to
//! it, went away): its services stop being offered here. Tools ask each bridge for the sites it
//! hears ([`zenoh_sites`]) to show remote nodes as remote. Nothing here touches zenoh or the
//! mesh itself: the bridge sends and receives what this file builds and reads.

use rosy::topology::ServiceInfo;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often a bridge announces its site.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(1);
/// A site not heard from for this long is gone.
pub const FORGET_AFTER: Duration = Duration::from_secs(4);
/// The service every bridge offers to tools: the sites it hears (its node id follows).
pub const SITES_SERVICE_PREFIX: &str = "zenoh_sites/";

/// A node of another site, as its bridge announces it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteNode {
    pub name: String,
    pub id: String,
    pub hostname: String,
    /// A command-line tool's node (listed only when asked for, as local ones are).
    #[serde(default)]
    pub tool: bool,
}

/// One site, as its bridge announces it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteInfo {
    /// The announcing bridge's node id (its exporting node's).
    pub bridge: String,
    /// The host the bridge runs on.
    pub hostname: String,
    /// The site's nodes (bridges left out).
    pub nodes: Vec<RemoteNode>,
    /// The services it lets other sites call.
    pub services: Vec<ServiceInfo>,
}

/// The sites a bridge hears, each with when it was last heard.
#[derive(Default)]
pub struct Sites {
    heard: HashMap<String, (SiteInfo, Instant)>,
}

impl Sites {
    /// Takes in an announcement, unless `own` says its bridge is of this mesh (another bridge
    /// of this site: its nodes are here, not elsewhere). Err if it is not an announcement.
    pub fn hear(
        &mut self,
        bytes: &[u8],
        now: Instant,
        own: impl Fn(&str) -> bool,
    ) -> Result<(), String> {
        let info: SiteInfo = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a bridge's site announcement: {e}"))?;
        if !own(&info.bridge) {
            self.heard.insert(info.bridge.clone(), (info, now));
        }
        Ok(())
    }

    /// Forgets the sites not heard for [`FORGET_AFTER`]; returns their bridges' ids.
    pub fn forget_silent(&mut self, now: Instant) -> Vec<String> {
        let gone: Vec<String> = self
            .heard
            .iter()
            .filter(|(_, (_, at))| now.duration_since(*at) > FORGET_AFTER)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            self.heard.remove(id);
        }
        gone
    }

    /// The sites heard, by bridge id.
    pub fn list(&self) -> Vec<SiteInfo> {
        let mut sites: Vec<SiteInfo> = self.heard.values().map(|(s, _)| s.clone()).collect();
        sites.sort_by(|a, b| a.bridge.cmp(&b.bridge));
        sites
    }
}

/// The sites each bridge of `node`'s mesh hears, by bridge id (one call per bridge, each
/// bounded by `timeout`); bridges that do not answer are left out.
pub async fn zenoh_sites(node: &rosy::Node, timeout: Duration) -> Vec<(String, Vec<SiteInfo>)> {
    let services: Vec<String> = node
        .topology()
        .nodes()
        .flat_map(|n| n.services.iter())
        .filter(|s| s.name.starts_with(SITES_SERVICE_PREFIX))
        .map(|s| s.name.clone())
        .collect();
    let mut out = Vec::new();
    for service in services {
        if let Ok(sites) = node
            .call_timeout::<(), Vec<SiteInfo>>(&service, &(), timeout)
            .await
        {
            out.push((service[SITES_SERVICE_PREFIX.len()..].to_string(), sites));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_sites_are_forgotten() {
        let mut sites = Sites::default();
        let t0 = Instant::now();
        let info = SiteInfo {
            bridge: "b1".into(),
            hostname: "h".into(),
            nodes: vec![],
            services: vec![],
        };
        let bytes = serde_json::to_vec(&info).unwrap();
        sites.hear(&bytes, t0, |id| id == "b1").unwrap();
        assert!(
            sites.list().is_empty(),
            "a bridge of this mesh is not another site"
        );
        sites.hear(&bytes, t0, |_| false).unwrap();
        let garbage = sites.hear(b"garbage", t0, |_| false).unwrap_err();
        assert!(garbage.contains("not a bridge"), "{garbage}");
        assert_eq!(sites.list(), vec![info]);
        assert!(sites.forget_silent(t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(
            sites.forget_silent(t0 + FORGET_AFTER * 2),
            vec!["b1".to_string()]
        );
        assert!(sites.list().is_empty());
    }
}
