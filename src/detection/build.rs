//! Series from facts as they stream out of the store: every account × service, every account
//! total, and the organisation total, summed exactly into one slot per period.
//!
//! A run at 1,000 accounts × 30 services × 400 days meets 12 M facts. Summing each into three
//! ordered maps keyed by time and by owned names was most of a run; here a fact costs two
//! hash lookups by borrowed name and three integer additions into dense arrays, and a name is
//! parsed once, when it is first seen (`benches/detection_scale.rs`).

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Context, Result};
use chrono::{Duration, NaiveDateTime};

use crate::domain::anomaly::Point;
use crate::domain::incident::{Scope, SeriesKey};
use crate::domain::{AccountId, Granularity, Money, ServiceName};
use crate::store::FactRef;

/// A slot with no fact yet.
const EMPTY: u8 = 0;
/// A slot with at least one fact, none estimated.
const FINAL: u8 = 1;
/// A slot with at least one estimated fact.
const ESTIMATED: u8 = 2;

/// Exact sums per period for one series, in units of 10⁻¹⁰ dollars.
struct Slots {
    units: Vec<i128>,
    marks: Vec<u8>,
}

impl Slots {
    fn new(len: usize) -> Slots {
        Slots { units: vec![0; len], marks: vec![EMPTY; len] }
    }

    fn add(&mut self, slot: usize, units: i128, estimated: bool) {
        self.units[slot] += units;
        let mark = if estimated { ESTIMATED } else { FINAL };
        self.marks[slot] = self.marks[slot].max(mark);
    }
}

/// One account's totals and its services, in the order first seen.
struct AccountSeries {
    id: AccountId,
    total: Slots,
    services: HashMap<String, usize>,
    /// Facts of the first source read (usage) own this account: the second (net) is skipped.
    from_first_source: bool,
}

/// Builds series from facts of one granularity whose periods start inside a range.
pub struct SeriesBuilder {
    granularity: Granularity,
    start: NaiveDateTime,
    step: Duration,
    len: usize,
    accounts: HashMap<String, usize>,
    account_series: Vec<AccountSeries>,
    service_series: Vec<(usize, ServiceName, Slots)>,
    organisation: Slots,
    second_source: bool,
    last_slot: Option<(NaiveDateTime, usize)>,
    last_series: Option<usize>,
}

impl SeriesBuilder {
    /// A builder for periods of `granularity` starting in `[start, end)`.
    pub fn new(granularity: Granularity, start: NaiveDateTime, end: NaiveDateTime) -> Result<SeriesBuilder> {
        let step = match granularity {
            Granularity::Daily => Duration::days(1),
            Granularity::Hourly => Duration::hours(1),
        };
        if end < start {
            bail!("series range ends ({end}) before it starts ({start})");
        }
        let len = usize::try_from((end - start).num_seconds() / step.num_seconds()).context("series range")?;
        Ok(SeriesBuilder {
            granularity,
            start,
            step,
            len,
            accounts: HashMap::new(),
            account_series: Vec::new(),
            service_series: Vec::new(),
            organisation: Slots::new(len),
            second_source: false,
            last_slot: None,
            last_series: None,
        })
    }

    /// From now on facts come from the fallback source: an account the first source had
    /// any fact for keeps only those (detection prefers usage-only facts to net ones).
    pub fn start_second_source(&mut self) {
        self.second_source = true;
    }

    fn slot(&mut self, at: NaiveDateTime) -> Result<usize> {
        // Facts come period by period (the order they were written in), so most share the
        // previous fact's period and skip the date arithmetic.
        if let Some((last, slot)) = self.last_slot {
            if last == at {
                return Ok(slot);
            }
        }
        let offset = (at - self.start).num_seconds();
        let step = self.step.num_seconds();
        if offset < 0 || offset % step != 0 || (offset / step) as usize >= self.len {
            bail!("a {} fact at {at} is outside the range read or not on a period boundary", self.granularity.as_str());
        }
        let slot = (offset / step) as usize;
        self.last_slot = Some((at, slot));
        Ok(slot)
    }

    /// The service series after the previous fact's, when this fact belongs to it: a table
    /// read in the order it was written repeats the same series in the same order period
    /// after period, so two string compares usually replace two hash lookups.
    fn predicted(&self, fact: &FactRef<'_>) -> Option<usize> {
        let guess = self.last_series.map_or(0, |s| s + 1);
        let guess = if guess >= self.service_series.len() { 0 } else { guess };
        let (a, name, _) = self.service_series.get(guess)?;
        (name.as_str() == fact.service && self.account_series[*a].id.as_str() == fact.account).then_some(guess)
    }

    /// The (account, service series) a fact adds to, created on first sight; `None` when
    /// the fact is skipped because the first source owns its account.
    fn series_of(&mut self, fact: &FactRef<'_>) -> Result<Option<(usize, usize)>> {
        if let Some(s) = self.predicted(fact) {
            let a = self.service_series[s].0;
            return Ok((!(self.second_source && self.account_series[a].from_first_source)).then_some((a, s)));
        }
        let a = match self.accounts.get(fact.account) {
            Some(&a) => a,
            None => {
                let id = AccountId::parse(fact.account).context("a stored fact's account")?;
                self.account_series.push(AccountSeries {
                    id,
                    total: Slots::new(self.len),
                    services: HashMap::new(),
                    from_first_source: !self.second_source,
                });
                self.accounts.insert(fact.account.to_string(), self.account_series.len() - 1);
                self.account_series.len() - 1
            }
        };
        if self.second_source && self.account_series[a].from_first_source {
            return Ok(None);
        }
        let s = match self.account_series[a].services.get(fact.service) {
            Some(&s) => s,
            None => {
                let name = ServiceName::parse(fact.service).context("a stored fact's service")?;
                self.service_series.push((a, name, Slots::new(self.len)));
                let s = self.service_series.len() - 1;
                self.account_series[a].services.insert(fact.service.to_string(), s);
                s
            }
        };
        Ok(Some((a, s)))
    }

    /// Adds one fact to its service series, its account total and the organisation total.
    pub fn add(&mut self, fact: FactRef<'_>) -> Result<()> {
        let slot = self.slot(fact.period_start)?;
        let Some((a, s)) = self.series_of(&fact)? else { return Ok(()) };
        self.last_series = Some(s);
        self.service_series[s].2.add(slot, fact.units, fact.estimated);
        self.account_series[a].total.add(slot, fact.units, fact.estimated);
        self.organisation.add(slot, fact.units, fact.estimated);
        Ok(())
    }

    /// The series with at least one fact, each with a point per period that had one.
    pub fn finish(self) -> BTreeMap<SeriesKey, Vec<Point>> {
        let SeriesBuilder { granularity, start, step, account_series, service_series, organisation, .. } = self;
        let points = |slots: &Slots| -> Vec<Point> {
            let mut at = start;
            let mut out = Vec::new();
            for (units, mark) in slots.units.iter().zip(&slots.marks) {
                if *mark != EMPTY {
                    let amount = Money::from_units(*units).as_decimal();
                    out.push(Point { at, amount, estimated: *mark == ESTIMATED });
                }
                at += step;
            }
            out
        };
        let key = |scope| SeriesKey { granularity, scope };
        let mut series = BTreeMap::new();
        for (a, service, slots) in &service_series {
            let account = account_series[*a].id.clone();
            series.insert(key(Scope::Service { account, service: service.clone() }), points(slots));
        }
        // An account is only created by a fact it then holds, so every account has points.
        for account in &account_series {
            series.insert(key(Scope::Account { account: account.id.clone() }), points(&account.total));
        }
        let organisation = points(&organisation);
        if !organisation.is_empty() {
            series.insert(key(Scope::Organisation), organisation);
        }
        series
    }
}
