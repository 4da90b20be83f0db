//! Registering the slash commands from `manifests/discord-commands.json`.
//!
//! The manifest is the single definition of what costbot offers in Discord's command picker;
//! registration sends it as is, so what is reviewed in the repository is what users see.

use anyhow::{bail, Context};
use serde_json::Value;
use serenity::http::{Http, LightMethod, Request, Route};
use serenity::model::id::GuildId;

/// The manifest shipped with costbot.
pub const MANIFEST: &str = include_str!("../../../manifests/discord-commands.json");

/// Replaces the application's commands with exactly those in `manifest_json` (a JSON array
/// of command objects): globally, or in one guild, where changes show at once (useful while
/// testing). Returns how many commands Discord now has registered.
///
/// Discord's bulk overwrite (PUT) removes commands that are not in the manifest.
pub async fn register_commands(http: &Http, guild: Option<GuildId>, manifest_json: &str) -> anyhow::Result<usize> {
    let commands: Vec<Value> =
        serde_json::from_str(manifest_json).context("the commands manifest must be a JSON array of command objects")?;
    for (i, command) in commands.iter().enumerate() {
        if command.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
            bail!("command {i} in the manifest has no name");
        }
    }
    let application_id = http.application_id().context("the Discord client has no application id")?;
    let route = match guild {
        Some(guild_id) => Route::GuildCommands { application_id, guild_id },
        None => Route::Commands { application_id },
    };
    let body = serde_json::to_vec(&commands).context("encoding the commands")?;
    let response = http
        .request(Request::new(route, LightMethod::Put).body(Some(body)))
        .await
        .context("Discord refused the commands")?;
    let registered: Vec<Value> = response.json().await.context("Discord's answer to the command registration")?;
    Ok(registered.len())
}
