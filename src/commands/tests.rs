//! Tests of the `/cost` grammar.

use proptest::prelude::*;

use super::*;

fn report(text: &str) -> Report {
    match parse(text) {
        Ok(Command::Report(r)) => r,
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn the_default_is_month_to_date() {
    assert_eq!(
        report(""),
        Report { period: Period::MonthToDate, group: None, top: None, filters: Filters::default(), compare: false }
    );
}

#[test]
fn every_period_form_parses() {
    let cases = [
        ("today", Period::Today),
        ("yesterday", Period::Yesterday),
        ("this week", Period::ThisWeek),
        ("last week", Period::LastWeek),
        ("last 7d", Period::LastDays(7)),
        ("last 30d", Period::LastDays(30)),
        ("90d", Period::LastDays(90)),
        ("last 14", Period::LastDays(14)),
        ("mtd", Period::MonthToDate),
        ("this month", Period::ThisMonth),
        ("last month", Period::LastMonth),
        ("2026-10", Period::Month(2026, 10)),
        ("2026-10-01..2026-10-15", Period::Between("2026-10-01".parse().unwrap(), "2026-10-15".parse().unwrap())),
        ("2026-10-03", Period::Between("2026-10-03".parse().unwrap(), "2026-10-03".parse().unwrap())),
    ];
    for (text, period) in cases {
        assert_eq!(report(text).period, period, "{text}");
        assert_eq!(report(&text.to_uppercase()).period, period, "{text} in capitals");
    }
}

#[test]
fn groupings_filters_top_and_compare_combine() {
    let r = report("Last Month by Service top 5 service=EC2 account=prod compare");
    assert_eq!(r.period, Period::LastMonth);
    assert_eq!((r.group, r.top, r.compare), (Some(GroupBy::Service), Some(5), true));
    assert_eq!(r.filters.services, vec!["Amazon Elastic Compute Cloud - Compute".to_string()]);
    assert_eq!(r.filters.accounts, vec!["prod".to_string()]);
    assert_eq!(report("by usage-type").group, Some(GroupBy::UsageType));
    assert_eq!(report("by region").group, Some(GroupBy::Region));
    assert_eq!(report("by accounts").group, Some(GroupBy::Account));
    let quoted = report("service=\"Amazon Simple Storage Service\"");
    assert_eq!(quoted.filters.services, vec!["Amazon Simple Storage Service".to_string()]);
}

#[test]
fn other_commands_parse() {
    assert_eq!(parse("help"), Ok(Command::Help));
    assert_eq!(parse("anomalies"), Ok(Command::Anomalies));
    assert_eq!(parse("anomalies stats"), Ok(Command::AnomalyStats));
    assert_eq!(parse("stats anomalies"), Ok(Command::AnomalyStats));
    assert!(matches!(parse("anomalies stats forecast"), Err(ParseError::Conflict(_))));
    assert_eq!(parse("offhours"), Ok(Command::Offhours));
    assert_eq!(parse("Schedules"), Ok(Command::Offhours));
    let id = ProposalId("p-1a2b".into());
    assert_eq!(parse("offhours pause p-1a2b"), Ok(Command::OffhoursPause { id: id.clone(), until: None }));
    let until = NaiveDate::from_ymd_opt(2026, 12, 24);
    assert_eq!(parse("offhours pause p-1a2b until 2026-12-24"), Ok(Command::OffhoursPause { id: id.clone(), until }));
    assert_eq!(parse("offhours resume p-1a2b"), Ok(Command::OffhoursResume { id }));
    let err = |t: &str| parse(t).unwrap_err().to_string();
    assert_eq!(err("offhours pause"), "`offhours pause` needs a schedule id from `/cost offhours`");
    assert_eq!(err("offhours pause p-1 until"), "`until` needs a date like 2026-12-24");
    assert!(err("offhours pause p-1 until 2026-02-30").contains("February 2026 has 28 days"));
    assert!(err("offhours stop p-1").starts_with("I don't know `stop`"));
    assert!(err("offhours pause p-1 now").starts_with("I don't know `now`"));
    assert!(err("offhours pause <script>").contains("needs a schedule id"));
    let keep = parse("keep pr-00ff needed for the \"Q4 release\"").unwrap();
    let reason = "needed for the Q4 release".to_string();
    assert_eq!(keep, Command::Keep { id: ProposalId("pr-00ff".into()), reason });
    assert_eq!(err("keep"), "`keep` needs a proposal id and a reason");
    assert!(err("keep pr-00ff").contains("needs a reason"), "{}", err("keep pr-00ff"));
    assert!(err("keep <b> x").contains("needs a proposal id"));
    let Ok(Command::Keep { reason, .. }) = parse(&format!("keep pr-1 {}", "why ".repeat(100))) else { panic!() };
    assert_eq!(reason.chars().count(), 200, "a long reason is cut");
    assert_eq!(
        parse("forecast service=rds"),
        Ok(Command::Forecast(Filters {
            services: vec!["Amazon Relational Database Service".into()],
            ..Filters::default()
        }))
    );
}

#[test]
fn mistakes_are_named_with_the_nearest_valid_word() {
    let says = |text: &str| parse(text).unwrap_err().to_string();
    assert_eq!(says("anomolies"), "I don't know `anomolies` — did you mean `anomalies`?");
    assert_eq!(says("last weak"), "`last` needs `week`, `month` or a number of days like `7d`");
    assert_eq!(says("by colour"), "`by` needs service, account, region, usage-type, tag:KEY or category:NAME");
    assert_eq!(says("by service top"), "`top` needs a number from 1 to 100");
    assert_eq!(says("servce=ec2"), "I don't know `servce=` — did you mean `service=`?");
    assert_eq!(says("mtd last week"), "two periods: `mtd` and `last week`; say one");
    assert_eq!(says("top 5"), "`top N` needs a breakdown, e.g. `by service top 5`");
    assert_eq!(says("frobnicate"), "I don't know `frobnicate`");
    assert_eq!(says("2026-13"), "`2026-13` is not a month: months run from 01 to 12");
}

#[test]
fn hostile_dates_are_named_not_computed() {
    let says = |text: &str| parse(text).unwrap_err().to_string();
    assert_eq!(says("+262142-12-31"), "`+262142-12-31` is outside the years costbot answers for (2000–2100)");
    assert_eq!(says("-2026-01-01"), "`-2026-01-01` is outside the years costbot answers for (2000–2100)");
    assert_eq!(says("9999-12-31"), "`9999-12-31` is outside the years costbot answers for (2000–2100)");
    assert_eq!(says("99999999999999-01"), "`99999999999999-01` is outside the years costbot answers for (2000–2100)");
    assert_eq!(says("2026-02-30"), "`2026-02-30` is not a calendar date: February 2026 has 28 days");
    assert_eq!(says("2028-02-30"), "`2028-02-30` is not a calendar date: February 2028 has 29 days");
    assert_eq!(says("2026-00-10"), "`2026-00-10` is not a calendar date: months run from 01 to 12");
    assert_eq!(
        says("2026-01-01..2100-01-01"),
        "`2026-01-01..2100-01-01` covers more than 400 days; ask for a shorter range"
    );
    assert_eq!(says("2026-01-01..9999-01-01"), "`9999-01-01` is outside the years costbot answers for (2000–2100)");
}

#[test]
fn injection_attempts_are_just_unknown_words() {
    let err = parse("'; drop table cost_facts; --").unwrap_err();
    assert!(matches!(err, ParseError::Unknown { .. }), "{err:?}");
    let err = parse("service='); DELETE FROM cost_facts; --").unwrap_err();
    assert_eq!(err.to_string(), "I don't know `delete`");
    // A quoted filter value is data: it is carried as text and resolved against the store by
    // parameterised queries, never spliced into SQL.
    let r = report("service=\"'); DELETE FROM cost_facts; --\"");
    assert_eq!(r.filters.services, vec!["'); DELETE FROM cost_facts; --".to_string()]);
}

#[test]
fn help_lists_every_vocabulary_entry() {
    let text = serde_json::to_string(&help()).unwrap();
    for entry in VOCABULARY {
        assert!(text.contains(entry.help), "{}", entry.usage);
    }
}

proptest! {
    #[test]
    fn any_input_gets_a_command_or_a_short_error(text in any::<String>()) {
        match parse(&text) {
            Ok(_) => {}
            Err(e) => prop_assert!(e.to_string().chars().count() < 200),
        }
    }

    #[test]
    fn huge_and_odd_inputs_never_panic(word in "[a-z0-9=.\\-\"“” ]{0,64}", repeat in 0usize..2000) {
        let text = word.repeat(repeat);
        let _ = parse(&text);
    }
}

fn vocabulary() -> Vocabulary {
    use crate::domain::tags::TagKey;
    Vocabulary { tag_keys: vec![TagKey::tag("team"), TagKey::tag("env"), TagKey::category("BusinessUnit")] }
}

fn tagged(text: &str) -> Report {
    match parse_in(text, &vocabulary()) {
        Ok(Command::Report(r)) => r,
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn tags_and_categories_group_and_filter_in_the_configured_spelling() {
    use crate::domain::tags::TagKey;
    assert_eq!(tagged("mtd by tag:team").group, Some(GroupBy::Tag(TagKey::tag("team"))));
    assert_eq!(tagged("by TAG:Team").group, Some(GroupBy::Tag(TagKey::tag("team"))));
    assert_eq!(tagged("by category:businessunit").group, Some(GroupBy::Tag(TagKey::category("BusinessUnit"))));
    let r = tagged("last month team=payments tag:env=Prod by account");
    assert_eq!(
        r.filters.tags,
        vec![
            TagFilter { key: TagKey::tag("team"), value: "payments".into() },
            TagFilter { key: TagKey::tag("env"), value: "Prod".into() },
        ]
    );
    let c = tagged("category:BusinessUnit=Retail");
    assert_eq!(c.filters.tags, vec![TagFilter { key: TagKey::category("BusinessUnit"), value: "Retail".into() }]);
    assert!(matches!(parse_in("forecast team=payments", &vocabulary()), Ok(Command::Forecast(f)) if f.tags.len() == 1));
}

#[test]
fn unknown_tag_keys_are_refused_by_name() {
    let owner = parse_in("by tag:owner", &vocabulary()).unwrap_err().to_string();
    assert!(owner.contains("does not collect spend by tag `owner`") && owner.contains("tag:team"), "{owner}");
    // A bare key must be configured; without configured keys it is an unknown word.
    assert!(matches!(parse_in("owner=x", &vocabulary()), Err(ParseError::Unknown { .. })));
    assert!(matches!(parse("team=payments"), Err(ParseError::Unknown { .. })));
    // Explicit prefixes pass through when no keys are known (the terminal and API decide).
    assert!(matches!(parse("by tag:team"), Ok(Command::Report(r)) if r.group.is_some()));
    assert!(matches!(parse_in("by tag:", &vocabulary()), Err(ParseError::Missing { .. })));
    assert!(parse_in("by", &vocabulary()).unwrap_err().to_string().contains("tag:KEY"));
}

#[test]
fn help_lists_the_tag_words() {
    let text = serde_json::to_string(&help()).unwrap();
    assert!(text.contains("by tag:team") && text.contains("team=payments · tag:env=prod"), "{text}");
}
