//! The pages' HTML: the shared frame, the console's channel view, and one stored message.
//! Built with maud's `html!`, which escapes every interpolated value.

use maud::{html, Markup, DOCTYPE};

use crate::chat::console::render::markup;
use crate::config::ChannelConfig;
use crate::domain::chat::UserId;
use crate::domain::console::ConsoleMessage;

/// The `<head>` every page shares.
fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · costbot" }
            link rel="stylesheet" href="/assets/costbot.css";
        }
    }
}

/// The sign-in form (`GET /login`), with a note when the last try was wrong.
pub fn login(failed: bool) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Sign in"))
            body data-page="login" {
                header.top { span.brand { "costbot" } }
                main {
                    h1 { "Sign in" }
                    @if failed { p.broken { "That token is not right." } }
                    form method="post" action="/login" {
                        label { "Web token " input type="password" name="token" autocomplete="current-password" required; }
                        button type="submit" { "Sign in" }
                    }
                }
            }
        }
    }
    .into_string()
}

/// What the console page shows.
pub struct ConsoleView<'a> {
    /// Every console channel.
    pub channels: &'a [&'a ChannelConfig],
    /// The one shown, if any is configured.
    pub current: Option<&'a ChannelConfig>,
    /// Who is looking.
    pub user: &'a UserId,
    /// The demo's identities, when this is the demo.
    pub demo_users: Option<&'a [UserId]>,
    /// Whether the viewer may use the deciding buttons here.
    pub approver: bool,
}

/// The frame every page shares: title, navigation, who is signed in (or the demo's identity
/// picker), then the page's body.
pub fn frame(title: &str, active: &str, user: &UserId, demo_users: Option<&[UserId]>, body: Markup) -> String {
    // In the demo every link carries the chosen identity along.
    let suffix = demo_users.map(|_| format!("?as={}", query_value(&user.0))).unwrap_or_default();
    let nav = [("console", "/", "Console"), ("dashboard", "/dashboard", "Dashboard")];
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body data-page=(active) {
                header.top {
                    span.brand { "costbot" }
                    nav {
                        @for (key, href, label) in nav {
                            a href={ (href) (suffix) } class=[(key == active).then_some("active")] { (label) }
                        }
                    }
                    @match demo_users {
                        Some(users) => {
                            label.who {
                                "You are "
                                select #as name="as" {
                                    @for u in users { option value=(u.0) selected[u == user] { (u.0) } }
                                }
                            }
                            span.badge { "demo · simulated cloud" }
                        }
                        None => span.who { "Signed in as " strong { (user.0) } },
                    }
                }
                main { (body) }
                script src="/assets/console.js" {}
            }
        }
    }
    .into_string()
}

/// The console: the channel list, the channel view the script fills, and the command box.
pub fn console(view: &ConsoleView<'_>) -> String {
    let Some(current) = view.current else {
        let body = html! {
            section.empty {
                h2 { "No console channel" }
                p {
                    "Add a " code { "[[channels]]" } " entry with " code { "platform = \"console\"" }
                    " to see costbot's messages here."
                }
            }
        };
        return frame("Console", "console", view.user, view.demo_users, body);
    };
    let as_param = view.demo_users.map(|_| format!("&as={}", query_value(&view.user.0))).unwrap_or_default();
    let role = if view.approver {
        "You can approve, deny and snooze here."
    } else {
        "You can ask questions here; only approvers can decide proposals."
    };
    let body = html! {
        div.console {
            aside.channels {
                h2 { "Channels" }
                ul {
                    @for c in view.channels {
                        li {
                            a href={ "/?channel=" (query_value(&c.id)) (as_param) } class=[(c.id == current.id).then_some("active")] {
                                (channel_name(c))
                            }
                        }
                    }
                }
            }
            section.channel #channel data-channel=(current.id) data-user=(view.user.0)
                data-approver=(view.approver) data-demo=(view.demo_users.is_some()) {
                h2.channel-name { (channel_name(current)) }
                p.role { (role) }
                div #messages .messages aria-live="polite" {}
                form #command-form .command autocomplete="off" {
                    label for="command" { "/cost" }
                    input #command name="command" placeholder="mtd by service · forecast · anomalies · help"
                        maxlength="500";
                    button type="submit" { "Send" }
                }
                p #status .status role="status" {}
            }
        }
    };
    frame("Console", "console", view.user, view.demo_users, body)
}

/// A value percent-encoded for a link's query string (maud then escapes the link for HTML).
fn query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn channel_name(c: &ChannelConfig) -> &str {
    c.name.as_deref().unwrap_or(&c.id)
}

/// One stored message: who said it, when, whether only the viewer sees it, and its content.
pub fn message(m: &ConsoleMessage) -> String {
    let classes =
        ["msg", if m.author.is_some() { " mine" } else { "" }, if m.visible_to.is_some() { " ephemeral" } else { "" }]
            .concat();
    html! {
        article class=(classes) id={ "msg-" (m.id) } data-id=(m.id) data-seq=(m.seq) {
            div.meta {
                span.author { @match &m.author { Some(u) => (u.0), None => "costbot" } }
                " "
                time { (m.posted_at.format("%b %-d %H:%M UTC")) }
                @if m.updated_at > m.posted_at {
                    " " span.edited { "updated " (m.updated_at.format("%H:%M:%S")) }
                }
                @if m.visible_to.is_some() {
                    " " span.only-you { "only you can see this" }
                }
            }
            (markup(&m.message))
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChannelPlatform;
    use crate::domain::chat::message::Message;
    use crate::domain::chat::ChannelId;

    const EVIL: &str = "\"><script>alert('x')</script>";

    fn channel(id: &str, name: &str) -> ChannelConfig {
        ChannelConfig {
            platform: ChannelPlatform::Console,
            id: id.into(),
            name: Some(name.into()),
            alerts: true,
            min_severity: Default::default(),
            approvers: vec![],
            accounts: vec![],
            tags: Default::default(),
            digest: true,
            digest_schedule: None,
            digest_timezone: None,
        }
    }

    #[test]
    fn hostile_names_stay_text_in_the_console_page() {
        let c = channel(EVIL, "<img src=x onerror=alert(1)>");
        let users = [UserId(EVIL.into()), UserId("ana".into())];
        let view = ConsoleView {
            channels: &[&c],
            current: Some(&c),
            user: &users[0],
            demo_users: Some(&users),
            approver: false,
        };
        let page = console(&view);
        assert!(!page.contains("<script>alert") && !page.contains("<img"), "{page}");
        assert!(page.contains("data-channel=\"&quot;&gt;&lt;script&gt;alert('x')&lt;/script&gt;\""), "{page}");
        // Links carry ids percent-encoded, so a quote cannot end the attribute or the query.
        assert!(
            page.contains("href=\"/?channel=%22%3E%3Cscript%3Ealert%28%27x%27%29%3C%2Fscript%3E&amp;as=%22"),
            "{page}"
        );
        insta::assert_snapshot!("console_page_hostile", page);
    }

    #[test]
    fn a_signed_in_user_and_a_hostile_message_are_text() {
        let page = console(&ConsoleView {
            channels: &[],
            current: None,
            user: &UserId(EVIL.into()),
            demo_users: None,
            approver: false,
        });
        assert!(page.contains("Signed in as <strong>&quot;&gt;&lt;script&gt;"), "{page}");
        assert!(page.contains("No console channel") && !page.contains("<script>alert"), "{page}");
        let at = "2026-11-18T07:00:00".parse().unwrap();
        let typed = ConsoleMessage {
            id: 7,
            seq: 9,
            channel: ChannelId("finops".into()),
            author: Some(UserId(EVIL.into())),
            visible_to: Some(UserId("ana".into())),
            message: Message::plain(EVIL),
            posted_at: at,
            updated_at: at,
        };
        let html = message(&typed);
        assert!(!html.contains("<script>"), "{html}");
        insta::assert_snapshot!("console_message_hostile", html);
    }
}
