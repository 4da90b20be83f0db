//! Series from facts as they stream out of the store: every account × service, every account
//! total, and the organisation total, summed exactly into one slot per period.
//!
//! A run at 1,000 accounts × 30 services × 400 days meets 12 M facts. Summing each into three
//! ordered maps keyed by time and by owned names was most of a run; here a fact costs two
//! hash lookups by borrowed name and three integer additions into dense arrays, and a name is
//! parsed once, when it is first seen (`benches/detection_scale.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

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

    fn has_facts(&self) -> bool {
        self.marks.iter().any(|m| *m != EMPTY)
    }

    fn clear(&mut self, slots: Range<usize>) {
        self.units[slots.clone()].fill(0);
        self.marks[slots].fill(EMPTY);
    }

    /// Drops the oldest `k` periods and opens `k` empty ones at the end.
    fn shift(&mut self, k: usize) {
        let k = k.min(self.units.len());
        self.units.rotate_left(k);
        self.marks.rotate_left(k);
        let len = self.units.len();
        self.clear(len - k..len);
    }

    fn add_all(&mut self, other: &Slots) {
        for (slot, (units, mark)) in other.units.iter().zip(&other.marks).enumerate() {
            self.units[slot] += units;
            self.marks[slot] = self.marks[slot].max(*mark);
        }
    }
}

/// One account's totals and its services, in the order first seen.
struct AccountSeries {
    id: AccountId,
    total: Slots,
    services: HashMap<String, usize>,
}

/// Builds series from facts of one granularity and one source (usage or net) whose periods
/// start inside a range. It can be kept between detection runs: [`clear`](Self::clear) and
/// re-[`add`](Self::add) the periods a collection replaced, [`advance`](Self::advance) as
/// the range moves on.
pub struct SeriesBuilder {
    granularity: Granularity,
    start: NaiveDateTime,
    step: Duration,
    len: usize,
    accounts: HashMap<String, usize>,
    account_series: Vec<AccountSeries>,
    service_series: Vec<(usize, ServiceName, Slots)>,
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
            last_slot: None,
            last_series: None,
        })
    }

    /// The start of the first period held.
    pub fn start(&self) -> NaiveDateTime {
        self.start
    }

    /// The end of the last period held (exclusive).
    pub fn end(&self) -> NaiveDateTime {
        self.start + Duration::seconds(self.step.num_seconds() * self.len as i64)
    }

    /// The slots of the periods starting in `[from, to)`, clamped to the range held.
    fn slots_of(&self, from: NaiveDateTime, to: NaiveDateTime) -> Range<usize> {
        let step = self.step.num_seconds();
        let index = |at: NaiveDateTime| {
            let offset = (at - self.start).num_seconds().max(0);
            // Round up: a period starting inside the step after `at` is not one before it.
            usize::try_from((offset + step - 1) / step).unwrap_or(usize::MAX).min(self.len)
        };
        let (a, b) = (index(from), index(to));
        a..b.max(a)
    }

    /// Forgets every fact of the periods starting in `[from, to)`, to add them again as
    /// the store now holds them.
    pub fn clear(&mut self, from: NaiveDateTime, to: NaiveDateTime) {
        let slots = self.slots_of(from, to);
        if slots.is_empty() {
            return;
        }
        for account in &mut self.account_series {
            account.total.clear(slots.clone());
        }
        for (_, _, series) in &mut self.service_series {
            series.clear(slots.clone());
        }
    }

    /// Moves the range on to start at `start`, keeping its length: the periods before it
    /// are dropped and as many empty ones open at the end, for the caller to read. Returns
    /// false, changing nothing, when `start` is earlier or not on a period boundary.
    pub fn advance(&mut self, start: NaiveDateTime) -> bool {
        let offset = (start - self.start).num_seconds();
        let step = self.step.num_seconds();
        if offset < 0 || offset % step != 0 {
            return false;
        }
        let k = usize::try_from(offset / step).unwrap_or(usize::MAX);
        if k == 0 {
            return true;
        }
        for account in &mut self.account_series {
            account.total.shift(k);
        }
        for (_, _, series) in &mut self.service_series {
            series.shift(k);
        }
        self.start = start;
        self.last_slot = None;
        true
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

    /// The (account, service series) a fact adds to, created on first sight.
    fn series_of(&mut self, fact: &FactRef<'_>) -> Result<(usize, usize)> {
        if let Some(s) = self.predicted(fact) {
            return Ok((self.service_series[s].0, s));
        }
        let a = match self.accounts.get(fact.account) {
            Some(&a) => a,
            None => {
                let id = AccountId::parse(fact.account).context("a stored fact's account")?;
                self.account_series.push(AccountSeries { id, total: Slots::new(self.len), services: HashMap::new() });
                self.accounts.insert(fact.account.to_string(), self.account_series.len() - 1);
                self.account_series.len() - 1
            }
        };
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
        Ok((a, s))
    }

    /// Adds one fact to its service series and its account total.
    pub fn add(&mut self, fact: FactRef<'_>) -> Result<()> {
        let slot = self.slot(fact.period_start)?;
        let (a, s) = self.series_of(&fact)?;
        self.last_series = Some(s);
        self.service_series[s].2.add(slot, fact.units, fact.estimated);
        self.account_series[a].total.add(slot, fact.units, fact.estimated);
        Ok(())
    }

    /// The series with at least one fact, each with a point per period that had one: every
    /// account × service, every account total, and the organisation total.
    pub fn finish(self) -> BTreeMap<SeriesKey, Vec<Point>> {
        self.series_preferred_over(None)
    }

    /// The series of this builder's accounts that have any fact in the range, then those of
    /// `fallback`'s other accounts, and the organisation total over both: how an account's
    /// usage-only facts (this builder) win over its net facts (`fallback`).
    pub fn series_preferred_over(&self, fallback: Option<&SeriesBuilder>) -> BTreeMap<SeriesKey, Vec<Point>> {
        let mut series = BTreeMap::new();
        let mut organisation = Slots::new(self.len);
        let owned = self.push_accounts(&HashSet::new(), &mut series, &mut organisation);
        if let Some(fallback) = fallback.filter(|f| f.start == self.start && f.len == self.len) {
            fallback.push_accounts(&owned, &mut series, &mut organisation);
        }
        if organisation.has_facts() {
            series.insert(
                SeriesKey { granularity: self.granularity, scope: Scope::Organisation },
                self.points(&organisation),
            );
        }
        series
    }

    /// Adds the series of every account with facts and not in `skip`; returns those added.
    fn push_accounts(
        &self,
        skip: &HashSet<String>,
        series: &mut BTreeMap<SeriesKey, Vec<Point>>,
        organisation: &mut Slots,
    ) -> HashSet<String> {
        let key = |scope| SeriesKey { granularity: self.granularity, scope };
        let mut added = HashSet::new();
        for account in &self.account_series {
            if skip.contains(account.id.as_str()) || !account.total.has_facts() {
                continue;
            }
            for &s in account.services.values() {
                let (_, service, slots) = &self.service_series[s];
                if slots.has_facts() {
                    let scope = Scope::Service { account: account.id.clone(), service: service.clone() };
                    series.insert(key(scope), self.points(slots));
                }
            }
            series.insert(key(Scope::Account { account: account.id.clone() }), self.points(&account.total));
            organisation.add_all(&account.total);
            added.insert(account.id.as_str().to_string());
        }
        added
    }

    fn points(&self, slots: &Slots) -> Vec<Point> {
        let mut at = self.start;
        let mut out = Vec::new();
        for (units, mark) in slots.units.iter().zip(&slots.marks) {
            if *mark != EMPTY {
                let amount = Money::from_units(*units).as_decimal();
                out.push(Point { at, amount, estimated: *mark == ESTIMATED });
            }
            at += self.step;
        }
        out
    }
}
