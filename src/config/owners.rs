//! `[[owners]]`: team names (owner tag values) mapped to the channel that gets their cards.
//! The tag keys owners are read from are `[approvals] owner_tag_keys`: TOML cannot have both a
//! `[owners]` table and the `[[owners]]` list.

use anyhow::{bail, Result};
use serde::Deserialize;

use super::{ChannelConfig, ChannelPlatform};
use crate::domain::chat::{ChannelId, Platform};
use crate::domain::owner::TeamRoute;

/// One `[[owners]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerRouteConfig {
    /// The owner tag's value, compared exactly (`team = "payments"`).
    pub team: String,
    /// The channel's platform.
    pub platform: ChannelPlatform,
    /// The channel, which must be in `[[channels]]`.
    pub channel: String,
}

/// The routes as the domain takes them.
pub fn routes(entries: &[OwnerRouteConfig]) -> Vec<TeamRoute> {
    entries
        .iter()
        .map(|e| TeamRoute {
            team: e.team.clone(),
            platform: Platform::from(e.platform),
            channel: ChannelId(e.channel.clone()),
        })
        .collect()
}

/// Each team is named once and routed to a configured channel, or the cards would silently
/// go nowhere.
pub fn validate(entries: &[OwnerRouteConfig], channels: &[ChannelConfig]) -> Result<()> {
    for (i, e) in entries.iter().enumerate() {
        if e.team.trim().is_empty() || entries[..i].iter().any(|o| o.team == e.team) {
            bail!("[[owners]]: team `{}` is empty or listed twice", e.team);
        }
        if !channels.iter().any(|c| c.platform == e.platform && c.id == e.channel) {
            bail!("[[owners]]: team `{}` goes to channel {}, which is not in [[channels]]", e.team, e.channel);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const CHANNEL: &str = "[[channels]]\nplatform = \"slack\"\nid = \"CPAY\"\n";

    #[test]
    fn a_team_goes_to_a_configured_channel_once() {
        let ok = format!("{CHANNEL}[[owners]]\nteam = \"payments\"\nplatform = \"slack\"\nchannel = \"CPAY\"\n");
        let config = Config::from_toml(&ok).unwrap();
        let routes = super::routes(&config.owners);
        assert_eq!((routes[0].team.as_str(), routes[0].channel.0.as_str()), ("payments", "CPAY"));
        let elsewhere = ok.replace("channel = \"CPAY\"", "channel = \"CNOPE\"");
        let error = format!("{:#}", Config::from_toml(&elsewhere).unwrap_err());
        assert!(error.contains("team `payments` goes to channel CNOPE, which is not in [[channels]]"), "{error}");
        let twice = format!("{ok}[[owners]]\nteam = \"payments\"\nplatform = \"slack\"\nchannel = \"CPAY\"\n");
        assert!(format!("{:#}", Config::from_toml(&twice).unwrap_err()).contains("listed twice"));
        let typo = ok.replace("team =", "teem =");
        assert!(format!("{:#}", Config::from_toml(&typo).unwrap_err()).contains("teem"));
    }
}
