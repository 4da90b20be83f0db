use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn berlin() -> Schedule {
    Schedule::parse("19:00-07:00 Mon-Fri Europe/Berlin").unwrap()
}

fn at(list: &[Transition]) -> Vec<(String, &'static str)> {
    list.iter().map(|t| (t.at.format("%a %m-%d %H:%MZ").to_string(), t.switch.as_str())).collect()
}

#[test]
fn schedules_parse_in_the_forms_people_write() {
    let s = berlin();
    assert_eq!(
        (s.off, s.on, s.zone),
        (
            NaiveTime::from_hms_opt(19, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            chrono_tz::Europe::Berlin
        )
    );
    assert_eq!(s.days, [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]);
    assert_eq!(s.to_string(), "19:00-07:00 Mon,Tue,Wed,Thu,Fri Europe/Berlin");
    assert_eq!(Schedule::parse("19:00-07:00 weekdays Europe/Berlin").unwrap(), s);
    assert_eq!(Schedule::parse("19:00-07:00 mon,tue,wed,thu,fri Europe/Berlin").unwrap(), s);
    assert_eq!(Schedule::parse("22:00-06:00 daily").unwrap().days.len(), 7);
    assert_eq!(Schedule::parse("22:00-06:00 daily").unwrap().zone, Tz::UTC);
    // A range may wrap over the weekend.
    assert_eq!(Schedule::parse("00:00-23:59 Sat-Mon").unwrap().days, [Weekday::Mon, Weekday::Sat, Weekday::Sun]);
    // The canonical text parses back to the same schedule.
    assert_eq!(Schedule::parse(&s.to_string()).unwrap(), s);
}

#[test]
fn bad_schedules_are_named() {
    let err = |t: &str| Schedule::parse(t).unwrap_err();
    assert_eq!(err("19:00 Mon-Fri"), ScheduleError::Shape);
    assert_eq!(err(""), ScheduleError::Shape);
    assert_eq!(err("24:00-07:00 Mon-Fri"), ScheduleError::Time("24:00".into()));
    assert_eq!(err("19:00-7 Mon-Fri"), ScheduleError::Time("7".into()));
    assert_eq!(err("19:00-19:00 Mon-Fri"), ScheduleError::SameTimes);
    assert_eq!(err("19:00-07:00 Mon-Fryday"), ScheduleError::Days("Mon-Fryday".into()));
    assert_eq!(err("19:00-07:00 Mon-Fri Mars/Olympus"), ScheduleError::Zone("Mars/Olympus".into()));
    assert!(err("19:00-07:00 Mon-Fri Europe/Berlin extra").to_string().contains("HH:MM-HH:MM"));
}

#[test]
fn a_week_stops_every_weekday_evening_and_starts_every_weekday_morning() {
    // Winter: Berlin is UTC+1.
    let week = berlin().transitions(utc("2026-11-30T00:00:00Z"), utc("2026-12-07T12:00:00Z"));
    let stops: Vec<_> = at(&week).into_iter().filter(|(_, s)| *s == "stop").map(|(t, _)| t).collect();
    assert_eq!(
        stops,
        ["Mon 11-30 18:00Z", "Tue 12-01 18:00Z", "Wed 12-02 18:00Z", "Thu 12-03 18:00Z", "Fri 12-04 18:00Z"]
    );
    assert_eq!(week.iter().filter(|t| t.switch == Switch::Start).count(), 6, "five mornings and next Monday's");
    assert_eq!(week[0].key(), "2026-11-30/start");
    // Off over the weekend, on again on Monday morning.
    let s = berlin();
    assert_eq!(s.in_force(utc("2026-12-05T12:00:00Z")), Switch::Stop);
    assert_eq!(s.in_force(utc("2026-12-07T05:59:00Z")), Switch::Stop);
    assert_eq!(s.in_force(utc("2026-12-07T06:00:00Z")), Switch::Start);
    assert_eq!(s.in_force(utc("2026-12-02T12:00:00Z")), Switch::Start);
    assert_eq!(
        s.next(utc("2026-12-04T18:00:00Z")).map(|t| (t.key(), t.at)),
        Some(("2026-12-07/start".into(), utc("2026-12-07T06:00:00Z")))
    );
}

#[test]
fn windows_that_follow_each_other_see_every_transition_exactly_once() {
    let s = berlin();
    let (start, end) = (utc("2026-03-20T00:00:00Z"), utc("2026-04-05T00:00:00Z"));
    let whole = s.transitions(start, end);
    // A tick every 7 minutes, as a scheduler with jitter would run.
    let mut pieces = Vec::new();
    let mut from = start;
    while from < end {
        let to = (from + Duration::minutes(7)).min(end);
        pieces.extend(s.transitions(from, to));
        from = to;
    }
    assert_eq!(pieces, whole);
    let mut keys: Vec<String> = whole.iter().map(Transition::key).collect();
    keys.dedup();
    assert_eq!(keys.len(), whole.len(), "every key names one transition");
}

#[test]
fn a_time_the_clocks_skip_happens_once_just_after_the_gap() {
    // Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST, so 02:30 does not exist that night.
    let s = Schedule::parse("02:30-06:00 daily Europe/Berlin").unwrap();
    let list = s.transitions(utc("2026-03-27T12:00:00Z"), utc("2026-03-30T12:00:00Z"));
    let stops: Vec<_> = at(&list).into_iter().filter(|(_, s)| *s == "stop").map(|(t, _)| t).collect();
    assert_eq!(stops, ["Sat 03-28 01:30Z", "Sun 03-29 01:00Z", "Mon 03-30 00:30Z"]);
    let starts: Vec<_> = at(&list).into_iter().filter(|(_, s)| *s == "start").map(|(t, _)| t).collect();
    assert_eq!(starts, ["Sat 03-28 05:00Z", "Sun 03-29 04:00Z", "Mon 03-30 04:00Z"]);
}

#[test]
fn a_time_the_clocks_repeat_happens_once_at_its_first_occurrence() {
    // Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice that night.
    let s = Schedule::parse("02:30-06:00 daily Europe/Berlin").unwrap();
    let list = s.transitions(utc("2026-10-24T12:00:00Z"), utc("2026-10-25T12:00:00Z"));
    assert_eq!(at(&list), [("Sun 10-25 00:30Z".to_string(), "stop"), ("Sun 10-25 05:00Z".to_string(), "start")]);
}

#[test]
fn minutes_off_follow_the_clock_change_and_savings_are_exact() {
    let s = berlin();
    // The weekend the clocks go back is an hour longer: Fri 19:00 CEST to Mon 07:00 CET.
    let weekend = s.minutes_off(utc("2026-10-23T12:00:00Z"), utc("2026-10-26T12:00:00Z"));
    assert_eq!(weekend, 61 * 60);
    // A winter week from Monday 07:00 to Monday 07:00: four nights of 12 h and a 60 h weekend.
    let (from, to) = (utc("2026-11-30T06:00:00Z"), utc("2026-12-07T06:00:00Z"));
    assert_eq!(s.minutes_off(from, to), 108 * 60);
    let hourly = Money::parse("0.0416").unwrap();
    assert_eq!(s.saving(hourly, from, to), Money::parse("4.4928").unwrap());
    assert_eq!(s.minutes_off(to, from), 0);
}

#[test]
fn the_recheck_before_a_transition_skips_and_says_why() {
    let s = berlin();
    let tagged = |value: &str| BTreeMap::from([(DEFAULT_TAG.to_string(), value.to_string())]);
    let ok = tagged("19:00-07:00 Mon-Fri Europe/Berlin");
    let decide = |switch, state: Option<&str>, tags: &BTreeMap<String, String>, protected| {
        decide_transition(&s, switch, state, tags, DEFAULT_TAG, protected)
    };
    assert_eq!(decide(Switch::Stop, Some("running"), &ok, None), TransitionDecision::Act(Switch::Stop));
    assert_eq!(decide(Switch::Stop, Some("available"), &ok, None), TransitionDecision::Act(Switch::Stop));
    assert_eq!(decide(Switch::Start, Some("stopped"), &ok, None), TransitionDecision::Act(Switch::Start));
    let skip = |d: TransitionDecision| match d {
        TransitionDecision::Skip(reason) => reason,
        other => panic!("expected a skip, got {other:?}"),
    };
    assert_eq!(skip(decide(Switch::Stop, Some("stopped"), &ok, None)), "it is stopped, so there is nothing to stop");
    assert_eq!(skip(decide(Switch::Stop, None, &ok, None)), "the resource no longer exists");
    assert!(skip(decide(Switch::Stop, Some("running"), &ok, Some("costbot:protect=yes")))
        .contains("protected tag costbot:protect=yes"));
    assert!(skip(decide(Switch::Start, Some("stopped"), &tagged("20:00-07:00 Mon-Fri Europe/Berlin"), None))
        .contains("needs approving again"));
    assert!(skip(decide(Switch::Start, Some("stopped"), &BTreeMap::new(), None))
        .contains("no longer carries a valid costbot:offhours tag"));
}

#[test]
fn a_week_off_does_not_depend_on_the_second_it_is_counted_from() {
    let s = berlin();
    // Instants inside and outside off periods, some with fractions of a second (the first is
    // Tuesday 19:14:37 Berlin): 4 nights of 12 hours and a weekend of 60, every time.
    for from in [
        "2026-12-01T18:14:37Z",
        "2026-12-01T18:00:00Z",
        "2026-12-02T09:59:59.5Z",
        "2026-12-01T18:16:46.815261017Z",
        "2026-12-05T23:00:01Z",
    ] {
        let from = utc(from);
        assert_eq!(s.minutes_off(from, from + Duration::days(7)), 108 * 60, "from {from}");
    }
}
