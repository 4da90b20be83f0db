//! The REST API's spend port, answered by the same function as `/cost`
//! ([`Answers::report_view`]), so `/api/v1/costs` and the chat answer cannot disagree.

use async_trait::async_trait;
use chrono::NaiveDate;

use super::{AnswerError, AnswerScope, AnswerTables, Answers};
use crate::commands::Report;
use crate::domain::tags::TagScope;
use crate::domain::AccountId;
use crate::render::answer::SpendView;
use crate::web::api::{SpendError, SpendSource};

#[async_trait]
impl<S: AnswerTables + Send + Sync + ?Sized> SpendSource for Answers<S> {
    async fn spend(
        &self,
        report: &Report,
        scope: Option<&[AccountId]>,
        tags: Option<&TagScope>,
        today: NaiveDate,
    ) -> Result<SpendView, SpendError> {
        let scope = AnswerScope { accounts: scope.map(<[AccountId]>::to_vec), tags: tags.cloned() };
        self.report_view(report, &scope, today).await.map_err(|e| match e {
            AnswerError::User(text) => SpendError::Question(text),
            AnswerError::Internal(error) => SpendError::Internal(error),
        })
    }
}
