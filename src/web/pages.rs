//! The pages' HTML: the shared frame, the console's channel view, and one stored message.
//! Every piece of text is escaped with the console renderer's [`escape`].

use crate::chat::console::render::{escape, html};
use crate::config::ChannelConfig;
use crate::domain::chat::UserId;
use crate::domain::console::ConsoleMessage;

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
pub fn frame(title: &str, active: &str, user: &UserId, demo_users: Option<&[UserId]>, body: &str) -> String {
    let suffix = demo_users.map(|_| format!("?as={}", escape(&user.0))).unwrap_or_default();
    let nav = [("console", "/", "Console"), ("dashboard", "/dashboard", "Dashboard")]
        .iter()
        .map(|(key, href, label)| {
            let class = if *key == active { " class=\"active\"" } else { "" };
            format!("<a href=\"{href}{suffix}\"{class}>{label}</a>")
        })
        .collect::<String>();
    let who = match demo_users {
        Some(users) => {
            let options: String = users
                .iter()
                .map(|u| {
                    let selected = if u == user { " selected" } else { "" };
                    format!("<option value=\"{0}\"{selected}>{0}</option>", escape(&u.0))
                })
                .collect();
            format!("<label class=\"who\">You are <select id=\"as\" name=\"as\">{options}</select></label><span class=\"badge\">demo · simulated cloud</span>")
        }
        None => format!("<span class=\"who\">Signed in as <strong>{}</strong></span>", escape(&user.0)),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · costbot</title><link rel=\"stylesheet\" href=\"/assets/costbot.css\"></head>\
         <body data-page=\"{}\"><header class=\"top\"><span class=\"brand\">costbot</span><nav>{nav}</nav>{who}</header>\
         <main>{body}</main><script src=\"/assets/console.js\"></script></body></html>\n",
        escape(title),
        escape(active)
    )
}

/// The console: the channel list, the channel view the script fills, and the command box.
pub fn console(view: &ConsoleView<'_>) -> String {
    let Some(current) = view.current else {
        let body = "<section class=\"empty\"><h2>No console channel</h2><p>Add a <code>[[channels]]</code> entry with \
                    <code>platform = \"console\"</code> to see costbot's messages here.</p></section>";
        return frame("Console", "console", view.user, view.demo_users, body);
    };
    let as_param = view.demo_users.map(|_| format!("&amp;as={}", escape(&view.user.0))).unwrap_or_default();
    let list: String = view
        .channels
        .iter()
        .map(|c| {
            let class = if c.id == current.id { " class=\"active\"" } else { "" };
            format!("<li><a href=\"/?channel={}{as_param}\"{class}>{}</a></li>", escape(&c.id), escape(channel_name(c)))
        })
        .collect();
    let role = if view.approver {
        "You can approve, deny and snooze here."
    } else {
        "You can ask questions here; only approvers can decide proposals."
    };
    let body = format!(
        "<div class=\"console\"><aside class=\"channels\"><h2>Channels</h2><ul>{list}</ul></aside>\
         <section class=\"channel\" id=\"channel\" data-channel=\"{}\" data-user=\"{}\" data-approver=\"{}\" data-demo=\"{}\">\
         <h2 class=\"channel-name\">{}</h2><p class=\"role\">{role}</p>\
         <div id=\"messages\" class=\"messages\" aria-live=\"polite\"></div>\
         <form id=\"command-form\" class=\"command\" autocomplete=\"off\"><label for=\"command\">/cost</label>\
         <input id=\"command\" name=\"command\" placeholder=\"mtd by service · forecast · anomalies · help\" maxlength=\"500\">\
         <button type=\"submit\">Send</button></form><p id=\"status\" class=\"status\" role=\"status\"></p></section></div>",
        escape(&current.id),
        escape(&view.user.0),
        view.approver,
        view.demo_users.is_some(),
        escape(channel_name(current)),
    );
    frame("Console", "console", view.user, view.demo_users, &body)
}

fn channel_name(c: &ChannelConfig) -> &str {
    c.name.as_deref().unwrap_or(&c.id)
}

/// One stored message: who said it, when, whether only the viewer sees it, and its content.
pub fn message(m: &ConsoleMessage) -> String {
    let mut classes = vec!["msg"];
    if m.author.is_some() {
        classes.push("mine");
    }
    if m.visible_to.is_some() {
        classes.push("ephemeral");
    }
    let who = m.author.as_ref().map_or("costbot".to_string(), |u| escape(&u.0));
    let mut meta =
        format!("<span class=\"author\">{who}</span> <time>{}</time>", m.posted_at.format("%b %-d %H:%M UTC"));
    if m.updated_at > m.posted_at {
        meta.push_str(&format!(" <span class=\"edited\">updated {}</span>", m.updated_at.format("%H:%M:%S")));
    }
    if m.visible_to.is_some() {
        meta.push_str(" <span class=\"only-you\">only you can see this</span>");
    }
    format!(
        "<article class=\"{}\" id=\"msg-{}\" data-id=\"{}\" data-seq=\"{}\"><div class=\"meta\">{meta}</div>{}</article>",
        classes.join(" "),
        m.id,
        m.id,
        m.seq,
        html(&m.message)
    )
}
