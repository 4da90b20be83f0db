//! AWS Organizations: the member accounts waste control searches with `[waste] accounts =
//! "organization"`, listed with the base credentials (the management account, or a delegated
//! administrator), every page, ACTIVE accounts only; each member is then reached through the
//! role template of `[waste.organization]` with its ExternalId.

use anyhow::{Context, Result};
use aws_config::{Region, SdkConfig};

use super::inventory_act::sdk_error;
use crate::config::{AccountConfig, Config};
use crate::domain::{Account, AccountId};

/// One member account as Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its id.
    pub id: AccountId,
    /// Its name in the organisation.
    pub name: String,
}

/// The organisation's ACTIVE accounts (suspended and pending-closure ones are left out),
/// asking for pages of `page_size` when given. Organizations is a global service served from
/// us-east-1.
pub async fn members(sdk: &SdkConfig, page_size: Option<i32>) -> Result<Vec<Member>> {
    let client = aws_sdk_organizations::Client::new(&sdk.to_builder().region(Region::new("us-east-1")).build());
    let mut pages = client.list_accounts().set_max_results(page_size).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error("organizations:ListAccounts", e))?;
        for account in page.accounts() {
            if !active(account) {
                continue;
            }
            let Some(id) = account.id() else { continue };
            let id = AccountId::parse(id).with_context(|| format!("Organizations listed account id {id}"))?;
            out.push(Member { name: account.name().unwrap_or(id.as_str()).to_string(), id });
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// AWS replaced `Status` (ACTIVE, SUSPENDED, PENDING_CLOSURE) by `State` in 2025 and still
/// sends both; moto sends only `Status`. `State` wins when present.
#[allow(deprecated)]
fn active(account: &aws_sdk_organizations::types::Account) -> bool {
    match account.state() {
        Some(state) => state.as_str() == "ACTIVE",
        None => account.status().is_some_and(|s| s.as_str() == "ACTIVE"),
    }
}

/// How to reach each member: the `[[accounts]]` entry when there is one, otherwise the role
/// template with the organisation's ExternalId.
pub fn account_configs(config: &Config, members: &[Member]) -> Result<Vec<AccountConfig>> {
    members
        .iter()
        .map(|m| match config.accounts.iter().find(|a| a.id == m.id) {
            Some(configured) => Ok(configured.clone()),
            None => Ok(AccountConfig {
                id: m.id.clone(),
                name: Some(m.name.clone()),
                cost_explorer: false,
                role_arn: Some(config.waste.organization.role_for(&m.id)?),
                external_id: config.waste.organization.external_id.clone(),
            }),
        })
        .collect()
}

/// The members as accounts to record, so `/cost` names them; accounts in `[[accounts]]` keep
/// their configured names and are not listed here.
pub fn named_accounts(config: &Config, members: &[Member]) -> Vec<Account> {
    members
        .iter()
        .filter(|m| !config.accounts.iter().any(|a| a.id == m.id))
        .map(|m| Account { id: m.id.clone(), name: Some(m.name.clone()), configured: false })
        .collect()
}
