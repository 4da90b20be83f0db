//! `compare` sets like against like. A period still in progress is compared with the same
//! elapsed part of the previous period: the same days, and for today the same hours where
//! hourly data exists on both sides. Without hourly data today is left out, because a few
//! estimated hours against a whole day is the "-69.9 % on the 1st" answer people stopped
//! trusting. The answer says which of these it did.

use chrono::{Days, NaiveDate, NaiveDateTime, Timelike};

use super::{AnswerTables, Answers, Grouping, Rows};
use crate::commands::Report;
use crate::domain::{DateRange, Granularity};
use crate::store::{SpendGroup, SpendQuery};

/// Both sides of a comparison and how they were chosen.
pub(super) struct Compared {
    /// The current side (the whole period when it is over).
    pub current: Rows,
    /// The previous side and its days; `None` when there is nothing comparable yet.
    pub previous: Option<(DateRange, Rows)>,
    /// What was compared, when it is not simply the two whole periods.
    pub note: Option<String>,
}

impl<S: AnswerTables + ?Sized> Answers<S> {
    /// Both sides of `compare` for `report`, like against like.
    pub(super) async fn compared(
        &self,
        report: &Report,
        query: &SpendQuery,
        group: Option<&Grouping>,
        today: NaiveDate,
    ) -> anyhow::Result<Compared> {
        let Some(elapsed) = report.period.elapsed(today) else {
            let range = report.period.previous(today);
            let current = self.rows(query, group).await?;
            let previous = self.rows(&SpendQuery { range, ..query.clone() }, group).await?;
            return Ok(Compared { current, previous: Some((range, previous)), note: None });
        };
        // Region and usage-type breakdowns are kept per day only, so they cannot be cut by hour.
        let hours = match (elapsed.twin_of_today, group) {
            (_, Some(Grouping::Dimension(_) | Grouping::Tags(..))) | (None, _) => None,
            (Some(twin), _) => self.hours_on_both(query, today, twin).await?.map(|h| (twin, h)),
        };
        if let Some((twin, hours)) = hours {
            let current = self.days_then_hours(query, group, elapsed.current.start(), today, hours).await?;
            let previous = self.days_then_hours(query, group, elapsed.previous.start(), twin, hours).await?;
            let note = format!(
                "Like for like: today until {hours:02}:00 UTC against {twin} until {hours:02}:00, and the whole days before each."
            );
            return Ok(Compared { current, previous: Some((elapsed.previous, previous)), note: Some(note) });
        }
        let previous_days = match elapsed.twin_of_today {
            Some(twin) => DateRange::new(elapsed.previous.start(), twin).ok(),
            None => Some(elapsed.previous),
        };
        let current_days = DateRange::new(elapsed.current.start(), today).ok();
        let (Some(current_days), Some(previous_days)) = (current_days, previous_days) else {
            let note = "Nothing to compare yet: today is only partly collected, and without hourly data it cannot be set against the same hours of the day before.";
            return Ok(Compared { current: self.rows(query, group).await?, previous: None, note: Some(note.into()) });
        };
        let current = self.rows(&SpendQuery { range: current_days, ..query.clone() }, group).await?;
        let previous = self.rows(&SpendQuery { range: previous_days, ..query.clone() }, group).await?;
        let note = format!(
            "Whole days only: {current_days} against {previous_days}. Today is left out until hourly data lets it be compared hour for hour."
        );
        Ok(Compared { current, previous: Some((previous_days, previous)), note: Some(note) })
    }

    /// How many hours of today have hourly facts, when `twin` has hourly facts too.
    async fn hours_on_both(
        &self,
        query: &SpendQuery,
        today: NaiveDate,
        twin: NaiveDate,
    ) -> anyhow::Result<Option<u32>> {
        let hourly = |day: NaiveDate| -> anyhow::Result<SpendQuery> {
            let range = DateRange::new(day, day + Days::new(1))?;
            Ok(SpendQuery { granularity: Granularity::Hourly, range, ..query.clone() })
        };
        let today_rows = self.store.spend_matrix(&hourly(today)?, SpendGroup::Total).await?;
        let Some(latest) = today_rows.iter().map(|(at, _)| *at).max() else { return Ok(None) };
        if self.store.spend_matrix(&hourly(twin)?, SpendGroup::Total).await?.is_empty() {
            return Ok(None);
        }
        Ok(Some(latest.hour() + 1))
    }

    /// Whole days from `start` to `day`, then the first `hours` hours of `day` from hourly
    /// facts (one sparkline point for that day).
    async fn days_then_hours(
        &self,
        query: &SpendQuery,
        group: Option<&Grouping>,
        start: NaiveDate,
        day: NaiveDate,
        hours: u32,
    ) -> anyhow::Result<Rows> {
        let range = DateRange::new(day, day + Days::new(1))?;
        let until: NaiveDateTime = day.and_hms_opt(0, 0, 0).unwrap_or_default() + chrono::Duration::hours(hours.into());
        let hourly = SpendQuery { granularity: Granularity::Hourly, range, ..query.clone() };
        let mut part = self.rows_until(&hourly, group, Some(until)).await?;
        part.daily = vec![(day.and_hms_opt(0, 0, 0).unwrap_or_default(), part.total)];
        match DateRange::new(start, day) {
            Ok(days) => Ok(self.rows(&SpendQuery { range: days, ..query.clone() }, group).await?.merged(part)),
            Err(_) => Ok(part),
        }
    }
}
