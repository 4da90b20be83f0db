//! `/cost budget [NAME]` and `/cost budget set NAME AMOUNT`. Only the channel's approvers
//! change an amount; a refusal is audited, and a change commits with its audit record.

use anyhow::Result;
use chrono::NaiveDateTime;

use super::{audit_record, Bot, BotTables};
use crate::budgets::{Budgets, Viewer};
use crate::chat::{Actor, Reply};
use crate::domain::budget::BudgetName;
use crate::domain::chat::message::Message;
use crate::domain::Money;
use crate::store::BudgetAmount;

impl<S: BotTables + ?Sized> Bot<S> {
    fn budgets(&self) -> Budgets<S> {
        Budgets::new(self.store.clone(), self.answers.clone(), self.config.clone(), "bot")
    }

    /// The budgets the channel may see (or the one named), from the store.
    pub(super) async fn budget_answer(
        &self,
        viewer: &Viewer<'_>,
        name: Option<&BudgetName>,
        now: NaiveDateTime,
    ) -> Result<Message> {
        let rows = self.budgets().rows(viewer, name, now.date()).await?;
        Ok(crate::render::budget::budgets(&rows, name))
    }

    /// Changes a budget's monthly amount, if `actor` is one of the channel's approvers.
    pub(super) async fn set_budget(
        &self,
        actor: &Actor,
        name: &BudgetName,
        amount: Money,
        viewer: &Viewer<'_>,
        now: NaiveDateTime,
    ) -> Result<Reply> {
        let budgets = self.budgets();
        let visible = budgets.rows(viewer, Some(name), now.date()).await?;
        // Unknown and out-of-scope budgets get the same answer, so a channel learns nothing else.
        let Some((was, from_config)) = budgets.amount(name).await?.filter(|_| !visible.is_empty()) else {
            return Ok(Reply::Ephemeral(Message::plain(format!(
                "No budget `{name}` in this channel; `/cost budget` lists them."
            ))));
        };
        let by = self.identity(actor);
        let detail = serde_json::json!({
            "from": was.as_decimal().to_string(),
            "from_configuration": from_config,
            "to": amount.as_decimal().to_string(),
            "by": by,
        });
        if !self.may_approve(actor) {
            let mut refused = detail;
            refused["reason"] = "not an approver".into();
            self.audit(actor, "budget_set_refused", name.as_str(), refused, now).await?;
            return Ok(Reply::Ephemeral(Message::plain("Only this channel's approvers can change a budget.")));
        }
        let change = BudgetAmount { budget: name.clone(), amount, set_by: by.clone(), set_at: now };
        let audit = audit_record(actor, "budget_amount_set", name.as_str(), detail, now);
        self.store.set_budget_amount(&change, &audit).await?;
        let source = if from_config { ", from the configuration" } else { "" };
        Ok(Reply::InChannel(Message::plain(format!(
            "Budget `{name}` is now {amount} a month (was {was}{source}); set by {by}. The next check uses it."
        ))))
    }
}
