//! Discord checks for `costbot doctor`: the bot token's application (which must be the
//! configured one) and the global commands registered for it, compared by name with
//! `manifests/discord-commands.json`.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use serenity::http::{LightMethod, Request, Route};

use super::DiscordSender;

/// The application the bot token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordApplication {
    /// Its id (a snowflake, as text).
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A GET through the sender's token and base URL, answered as JSON.
async fn get(sender: &DiscordSender, route: Route<'_>) -> Result<Value> {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .context("building the HTTP client for Discord")?;
    let http = sender.http();
    let request = Request::new(route, LightMethod::Get).build(&client, http.token(), http.proxy.as_deref())?;
    let response = request.send().await.context("cannot reach Discord")?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = body["message"].as_str().unwrap_or("no message");
        bail!("Discord answered {status}: {message}");
    }
    Ok(body)
}

/// `GET /oauth2/applications/@me`: the application of the bot token.
pub async fn application(sender: &DiscordSender) -> Result<DiscordApplication> {
    let body = get(sender, Route::Oauth2ApplicationCurrent).await?;
    let id = match &body["id"] {
        Value::String(id) => id.clone(),
        other => bail!("Discord's application has no id: {other}"),
    };
    Ok(DiscordApplication { id, name: body["name"].as_str().unwrap_or("?").to_string() })
}

/// The names of the application's registered global commands.
pub async fn global_commands(sender: &DiscordSender) -> Result<Vec<String>> {
    let application_id = serenity::model::id::ApplicationId::new(sender.application_id());
    let body = get(sender, Route::Commands { application_id }).await?;
    let commands = body.as_array().context("Discord's command list is not a list")?;
    Ok(commands.iter().filter_map(|c| c["name"].as_str()).map(str::to_string).collect())
}

/// The command names in a commands manifest (a JSON array of command objects).
pub fn manifest_command_names(manifest_json: &str) -> Result<Vec<String>> {
    let commands: Vec<Value> =
        serde_json::from_str(manifest_json).context("the commands manifest is not a JSON array")?;
    Ok(commands.iter().filter_map(|c| c["name"].as_str()).map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_manifest_names_cost() {
        assert_eq!(super::manifest_command_names(super::super::commands::MANIFEST).unwrap(), ["cost"]);
    }
}
