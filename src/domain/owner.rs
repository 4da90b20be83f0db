//! Who owns a resource, from its tags (pure).
//!
//! A resource's owner is written in a tag (by default the first of `owner`, `Owner`,
//! `created-by`, `team` that is set) as an email address, a Slack user id or a Discord user
//! id; a team name maps to a channel through `[[owners]]`. The job that makes a proposal
//! parses the tags here, resolves an email through Slack's directory (the only I/O, done by
//! the caller) and stores the [`Owner`] on the proposal, so the card, the direct message and
//! the Keep button never look anything up on the chat request path.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::chat::{ChannelId, Platform, UserId};

/// The tag keys looked at, in order, when the configuration names none.
pub const DEFAULT_TAG_KEYS: [&str; 4] = ["owner", "Owner", "created-by", "team"];

/// How long the owner's **Keep** holds a proposal back.
pub const KEEP: Duration = Duration::days(30);

/// What one owner tag's value says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerTag {
    /// An email address, resolved to a Slack user through `users.lookupByEmail`.
    Email(String),
    /// A Slack user id (`U…` or `W…`), optionally written `<@U…>` or `slack:U…`.
    Slack(UserId),
    /// A Discord user id (a snowflake), optionally written `<@…>` or `discord:…`.
    Discord(UserId),
    /// Anything else: a team name (which `[[owners]]` may map to a channel) or a person
    /// costbot cannot reach.
    Name(String),
}

impl OwnerTag {
    /// Parses a tag value; `None` for an empty one.
    pub fn parse(value: &str) -> Option<OwnerTag> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        let bare = value.strip_prefix("<@").and_then(|v| v.strip_suffix('>')).unwrap_or(value);
        if let Some(id) = bare.strip_prefix("slack:").filter(|id| slack_id(id)) {
            return Some(OwnerTag::Slack(UserId(id.to_string())));
        }
        if let Some(id) = bare.strip_prefix("discord:").filter(|id| discord_id(id)) {
            return Some(OwnerTag::Discord(UserId(id.to_string())));
        }
        if slack_id(bare) {
            return Some(OwnerTag::Slack(UserId(bare.to_string())));
        }
        if discord_id(bare) {
            return Some(OwnerTag::Discord(UserId(bare.to_string())));
        }
        if email(value) {
            return Some(OwnerTag::Email(value.to_ascii_lowercase()));
        }
        Some(OwnerTag::Name(value.to_string()))
    }
}

/// A Slack user id: `U` or `W` and 8 to 20 upper-case letters and digits.
fn slack_id(text: &str) -> bool {
    let rest = text.strip_prefix('U').or_else(|| text.strip_prefix('W'));
    rest.is_some_and(|r| (8..=20).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
}

/// A Discord snowflake: 17 to 20 digits.
fn discord_id(text: &str) -> bool {
    (17..=20).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// An email address as far as routing needs: one `@`, something before it, a dot after it,
/// no spaces or angle brackets.
fn email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.contains([' ', '<', '>'])
}

/// The owner tags of a resource, in the order of `keys`: `(key, value, parsed)` for each key
/// that is set and not empty.
pub fn owner_tags<'a>(tags: &'a BTreeMap<String, String>, keys: &[String]) -> Vec<(&'a str, &'a str, OwnerTag)> {
    keys.iter()
        .filter_map(|k| tags.get_key_value(k.as_str()))
        .filter_map(|(k, v)| OwnerTag::parse(v).map(|t| (k.as_str(), v.as_str(), t)))
        .collect()
}

/// One `[[owners]]` entry: resources whose owner tag has this value get their cards in this
/// channel too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRoute {
    /// The tag value (a team name), compared exactly.
    pub team: String,
    /// The channel's platform.
    pub platform: Platform,
    /// The channel.
    pub channel: ChannelId,
}

/// A chat user who owns a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatUser {
    /// Where the user is.
    pub platform: Platform,
    /// Their id there.
    pub id: UserId,
}

/// What an email address resolved to in Slack's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailLookup {
    /// A Slack user.
    Found(UserId),
    /// Slack knows no user with it (`users_not_found`).
    NotFound,
    /// The lookup could not be made (no Slack, a missing scope, an outage), in words.
    Failed(String),
}

/// The port to a chat platform's user directory (Slack's `users.lookupByEmail`).
#[async_trait::async_trait]
pub trait UserDirectory: Send + Sync {
    /// The user with this email address. Never called on the chat request path: the job that
    /// makes proposals calls it, through a cache.
    async fn user_by_email(&self, email: &str) -> EmailLookup;
}

/// The owner of a proposal's resource, as resolved when the proposal was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The tag it came from, as `key=value`; `None` when no owner tag is set.
    pub tag: Option<String>,
    /// The chat user to mention and send the card to, when one was found.
    pub user: Option<ChatUser>,
    /// The team channel that also gets the card, from `[[owners]]`.
    pub team: Option<TeamRoute>,
    /// Why no user was found, in words (shown on the card); `None` when `user` is set.
    pub unknown: Option<String>,
}

impl Owner {
    /// Settles who the owner is from the resource's owner tags (as [`owner_tags`] gives
    /// them), the lookup of the first email among them (when there is one), and the
    /// `[[owners]]` routes. The first tag that names a person wins; the first value that
    /// names a team with a route gives the team channel.
    pub fn settle(tags: &[(&str, &str, OwnerTag)], email: Option<&EmailLookup>, routes: &[TeamRoute]) -> Owner {
        let team = tags.iter().find_map(|(_, v, _)| routes.iter().find(|r| r.team == *v)).cloned();
        let person = tags.iter().find(|(_, _, t)| !matches!(t, OwnerTag::Name(_)));
        let Some((key, value, parsed)) = person.or(tags.first()) else {
            let unknown = Some("no owner tag".to_string());
            return Owner { tag: None, user: None, team, unknown };
        };
        let tag = Some(format!("{key}={value}"));
        let (user, unknown) = match (parsed, email) {
            (OwnerTag::Slack(id), _) => (Some(ChatUser { platform: Platform::Slack, id: id.clone() }), None),
            (OwnerTag::Discord(id), _) => (Some(ChatUser { platform: Platform::Discord, id: id.clone() }), None),
            (OwnerTag::Email(_), Some(EmailLookup::Found(id))) => {
                (Some(ChatUser { platform: Platform::Slack, id: id.clone() }), None)
            }
            (OwnerTag::Email(_), Some(EmailLookup::NotFound)) => (None, Some("no Slack user has that email".into())),
            (OwnerTag::Email(_), Some(EmailLookup::Failed(why))) => {
                (None, Some(format!("the email could not be looked up ({why})")))
            }
            (OwnerTag::Email(_), None) => (None, Some("emails are looked up in Slack, which is not set up".into())),
            (OwnerTag::Name(_), _) if team.is_some() => (None, Some("a team, not a person".into())),
            (OwnerTag::Name(_), _) => (None, Some("not an email or a chat user id".into())),
        };
        Owner { tag, user, team, unknown }
    }

    /// True when `platform`/`user` is the owner.
    pub fn is(&self, platform: Platform, user: &UserId) -> bool {
        self.user.as_ref().is_some_and(|u| u.platform == platform && u.id == *user)
    }
}

/// The outbox channel of a direct message to `user`: `@` and the user id. The platform's
/// sender opens the conversation (Slack `conversations.open`, Discord
/// `POST /users/@me/channels`) when it posts or edits there.
pub fn dm_channel(user: &UserId) -> ChannelId {
    ChannelId(format!("@{}", user.0))
}

/// The user a [`dm_channel`] is for; `None` for an ordinary channel.
pub fn dm_user(channel: &ChannelId) -> Option<UserId> {
    channel.0.strip_prefix('@').filter(|u| !u.is_empty()).map(|u| UserId(u.to_string()))
}

/// Until when a Keep pressed at `now` holds.
pub fn kept_until(now: NaiveDateTime) -> NaiveDateTime {
    now + KEEP
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn keys() -> Vec<String> {
        DEFAULT_TAG_KEYS.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn each_tag_form_parses_to_its_kind() {
        let slack = |id: &str| Some(OwnerTag::Slack(UserId(id.into())));
        let discord = |id: &str| Some(OwnerTag::Discord(UserId(id.into())));
        assert_eq!(OwnerTag::parse("Ana@Example.com"), Some(OwnerTag::Email("ana@example.com".into())));
        assert_eq!(OwnerTag::parse("U0123ABCD"), slack("U0123ABCD"));
        assert_eq!(OwnerTag::parse("<@W0123ABCDE>"), slack("W0123ABCDE"));
        assert_eq!(OwnerTag::parse("slack:U0123ABCD"), slack("U0123ABCD"));
        assert_eq!(OwnerTag::parse("80351110224678912"), discord("80351110224678912"));
        assert_eq!(OwnerTag::parse("<@80351110224678912>"), discord("80351110224678912"));
        assert_eq!(OwnerTag::parse("discord:80351110224678912"), discord("80351110224678912"));
        for name in ["payments", "ana", "U12", "u0123abcd", "a@b", "a b@c.d", "@x.com", "1234"] {
            assert_eq!(OwnerTag::parse(name), Some(OwnerTag::Name(name.into())), "{name}");
        }
        assert_eq!(OwnerTag::parse("  "), None);
    }

    #[test]
    fn the_first_person_tag_wins_and_a_team_tag_routes() {
        let routes =
            vec![TeamRoute { team: "payments".into(), platform: Platform::Slack, channel: ChannelId("CPAY".into()) }];
        let t = tags(&[("team", "payments"), ("Owner", "U0123ABCD"), ("owner", "")]);
        let owner = Owner::settle(&owner_tags(&t, &keys()), None, &routes);
        assert_eq!(owner.tag.as_deref(), Some("Owner=U0123ABCD"));
        assert!(owner.is(Platform::Slack, &UserId("U0123ABCD".into())));
        assert!(!owner.is(Platform::Discord, &UserId("U0123ABCD".into())));
        assert_eq!(owner.team.as_ref().map(|r| r.channel.0.as_str()), Some("CPAY"));
        assert_eq!(owner.unknown, None);

        let only_team = Owner::settle(&owner_tags(&tags(&[("team", "payments")]), &keys()), None, &routes);
        assert_eq!((only_team.user, only_team.unknown.as_deref()), (None, Some("a team, not a person")));
        assert!(only_team.team.is_some());
    }

    #[test]
    fn emails_take_the_lookup_and_unknown_owners_say_why() {
        let t = tags(&[("created-by", "ana@example.com")]);
        let found = owner_tags(&t, &keys());
        let slack = Owner::settle(&found, Some(&EmailLookup::Found(UserId("U0ANA00001".into()))), &[]);
        assert!(slack.is(Platform::Slack, &UserId("U0ANA00001".into())));
        let missing = Owner::settle(&found, Some(&EmailLookup::NotFound), &[]);
        assert_eq!(missing.unknown.as_deref(), Some("no Slack user has that email"));
        assert_eq!(missing.tag.as_deref(), Some("created-by=ana@example.com"));
        let none = Owner::settle(&owner_tags(&tags(&[("env", "dev")]), &keys()), None, &[]);
        assert_eq!((none.tag, none.unknown.as_deref()), (None, Some("no owner tag")));
        let custom = tags(&[("maintainer", "U0123ABCD")]);
        assert_eq!(owner_tags(&custom, &["maintainer".to_string()]).len(), 1, "the keys are configurable");
    }

    #[test]
    fn a_dm_channel_names_its_user_and_ordinary_channels_none() {
        let dm = dm_channel(&UserId("U0123ABCD".into()));
        assert_eq!(dm_user(&dm), Some(UserId("U0123ABCD".into())));
        assert_eq!(dm_user(&ChannelId("C1".into())), None);
        assert_eq!(dm_user(&ChannelId("@".into())), None);
    }
}
