//! Slack's user directory: `users.lookupByEmail` (scope `users:read.email`), the port
//! `domain::owner::UserDirectory` the proposer resolves owners' emails through. It is called by
//! the job that makes proposals, through `crate::owners`' cache, never on the chat request
//! path.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::{
    EmailAddress, SlackApiToken, SlackApiTokenValue, SlackApiUsersLookupByEmailRequest, SlackClient,
    SlackClientHyperConnector,
};

use super::api::{slack_client, Connector};
use crate::domain::chat::UserId;
use crate::domain::owner::{EmailLookup, UserDirectory};

/// Looks people up in the Slack workspace of a bot token.
pub struct SlackDirectory {
    client: SlackClient<SlackClientHyperConnector<Connector>>,
    token: SlackApiToken,
}

impl std::fmt::Debug for SlackDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackDirectory").finish_non_exhaustive()
    }
}

impl SlackDirectory {
    /// A directory over `bot_token`, talking to `api_url` instead of Slack when given.
    pub fn new(bot_token: SecretString, api_url: Option<&str>) -> anyhow::Result<SlackDirectory> {
        Ok(SlackDirectory {
            client: slack_client(api_url)?,
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.expose_secret().to_string())),
        })
    }
}

#[async_trait]
impl UserDirectory for SlackDirectory {
    async fn user_by_email(&self, email: &str) -> EmailLookup {
        let request = SlackApiUsersLookupByEmailRequest::new(EmailAddress(email.to_string()));
        let session = self.client.open_session(&self.token);
        match session.users_lookup_by_email(&request).await {
            // A deactivated account cannot read a direct message or press Keep.
            Ok(found) if found.user.deleted == Some(true) => EmailLookup::NotFound,
            Ok(found) => EmailLookup::Found(UserId(found.user.id.to_string())),
            Err(SlackClientError::ApiError(e)) if e.code == "users_not_found" => EmailLookup::NotFound,
            // `missing_scope` (no `users:read.email`), rate limits, outages: said on the card.
            Err(SlackClientError::ApiError(e)) => EmailLookup::Failed(format!("Slack error {}", e.code)),
            Err(SlackClientError::RateLimitError(_)) => EmailLookup::Failed("rate limited by Slack".into()),
            Err(other) => {
                tracing::warn!(error = %other, "users.lookupByEmail failed");
                EmailLookup::Failed("Slack could not be reached".into())
            }
        }
    }
}
