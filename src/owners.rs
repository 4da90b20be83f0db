//! Owner resolution for the proposer: each finding's owner tags (parsed in `domain::owner`),
//! the first email among them looked up in Slack's directory through a cache with a time to
//! live, and the `[[owners]]` team routes. It runs in the job that makes proposals, before
//! they are written, so nothing on the chat request path looks anyone up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDateTime};

use crate::config::Config;
use crate::domain::owner::{owner_tags, EmailLookup, Owner, OwnerTag, TeamRoute, UserDirectory};
use crate::domain::resource::WasteFinding;
use crate::proposals::Owners;

/// Resolves owners, remembering email lookups for `ttl`.
pub struct OwnerResolver {
    keys: Vec<String>,
    routes: Vec<TeamRoute>,
    directory: Option<Arc<dyn UserDirectory>>,
    ttl: Duration,
    cache: Mutex<HashMap<String, (EmailLookup, NaiveDateTime)>>,
}

impl std::fmt::Debug for OwnerResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnerResolver").field("keys", &self.keys).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl OwnerResolver {
    /// A resolver reading `keys`, routing teams by `routes`, looking emails up in `directory`
    /// (none: emails stay unresolved, and the card says so) and remembering answers for `ttl`.
    pub fn new(
        keys: Vec<String>,
        routes: Vec<TeamRoute>,
        directory: Option<Arc<dyn UserDirectory>>,
        ttl: Duration,
    ) -> OwnerResolver {
        OwnerResolver { keys, routes, directory, ttl, cache: Mutex::new(HashMap::new()) }
    }

    /// The resolver the configuration describes, over `directory`.
    pub fn from_config(config: &Config, directory: Option<Arc<dyn UserDirectory>>) -> OwnerResolver {
        let minutes = config.approvals.owner_cache_minutes.min(60 * 24 * 30) as i64;
        OwnerResolver::new(
            config.approvals.owner_tag_keys.clone(),
            crate::config::owner_routes(&config.owners),
            directory,
            Duration::minutes(minutes),
        )
    }

    /// The owner of every finding's resource, keyed as `proposals::Owners` wants.
    pub async fn resolve(&self, findings: &[WasteFinding], now: NaiveDateTime) -> Owners {
        let mut owners = Owners::new();
        for f in findings {
            let tags = owner_tags(&f.resource.tags, &self.keys);
            // Only the tag that names the owner is looked up: an email under a later key than
            // a Slack id is not needed.
            let lookup = match tags.iter().find(|(_, _, t)| !matches!(t, OwnerTag::Name(_))) {
                Some((_, _, OwnerTag::Email(email))) => self.lookup(email, now).await,
                _ => None,
            };
            owners.insert(f.resource.reference.to_string(), Owner::settle(&tags, lookup.as_ref(), &self.routes));
        }
        owners
    }

    /// The directory's answer for `email`, from the cache while it is younger than the time to
    /// live. Failed lookups are not remembered, so the next run tries again.
    async fn lookup(&self, email: &str, now: NaiveDateTime) -> Option<EmailLookup> {
        let directory = self.directory.as_ref()?;
        let cached = {
            let cache = self.cache.lock().ok()?;
            cache.get(email).filter(|(_, at)| now < *at + self.ttl).map(|(answer, _)| answer.clone())
        };
        if cached.is_some() {
            return cached;
        }
        let answer = directory.user_by_email(email).await;
        if !matches!(answer, EmailLookup::Failed(_)) {
            if let Ok(mut cache) = self.cache.lock() {
                cache.insert(email.to_string(), (answer.clone(), now));
            }
        }
        Some(answer)
    }
}
