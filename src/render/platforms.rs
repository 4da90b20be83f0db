//! Snapshots of costbot's real messages (the alert, the approval card, a `/cost` answer, the
//! help) as Slack Block Kit and as Discord JSON, so a change to either renderer or to the
//! messages shows up as a reviewed diff.

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;
    use serde_json::json;

    use crate::chat::{discord, slack};
    use crate::domain::chat::message::Message;

    fn both(message: &Message) -> serde_json::Value {
        json!({
            "slack": { "text": slack::render::fallback_text(message), "blocks": slack::render::blocks(message) },
            "discord": discord::render(message),
        })
    }

    fn at(s: &str) -> NaiveDateTime {
        s.parse().unwrap()
    }

    #[test]
    fn the_alert_on_both_platforms() {
        let message = crate::render::alert::alert(
            &crate::render::alert::tests::sample(),
            &|_: &str| Some("prod".to_string()),
            at("2026-11-18T07:00:00"),
        );
        insta::assert_json_snapshot!("alert_on_both_platforms", both(&message));
    }

    #[test]
    fn the_approval_card_on_both_platforms() {
        let message = crate::render::approval::tests::strict_terminate_card();
        insta::assert_json_snapshot!("approval_on_both_platforms", both(&message));
    }

    #[test]
    fn a_mention_notifies_only_on_its_own_platform_and_a_forged_one_stays_text() {
        use crate::domain::chat::message::{Block, Span};
        use crate::domain::chat::Platform;
        let spans = vec![
            Span::Mention((Platform::Slack, "U0ANA00001".into())),
            Span::Plain(" and ".into()),
            Span::Mention((Platform::Discord, "80351110224678912".into())),
            Span::Plain(" and ".into()),
            Span::Mention((Platform::Slack, "!channel>".into())),
        ];
        let message = Message { blocks: vec![Block::Text { spans }], ..Message::plain("mentions") };
        let mut all = both(&message);
        all["text"] = json!(crate::render::text::plain(&message));
        insta::assert_json_snapshot!("mentions_on_both_platforms", all);
    }

    #[test]
    fn the_digest_on_both_platforms_and_as_text() {
        let message = crate::render::digest::digest(&crate::render::digest::tests::sample());
        let mut all = both(&message);
        all["text"] = json!(crate::render::text::plain(&message));
        insta::assert_json_snapshot!("digest_on_both_platforms", all);
    }

    #[test]
    fn budgets_on_both_platforms() {
        use crate::render::budget::{alert, budgets, tests::sample_rows};
        let rows = sample_rows();
        let status = rows[0].status.clone().expect("the sample's first budget is worked out");
        let all = json!({
            "table": both(&budgets(&rows, None)),
            "alert": both(&alert(&rows[0], &status, &crate::domain::budget::AlertKind::Forecast)),
        });
        insta::assert_json_snapshot!("budgets_on_both_platforms", all);
    }

    #[test]
    fn help_on_both_platforms() {
        insta::assert_json_snapshot!("help_on_both_platforms", both(&crate::commands::help()));
    }
}
