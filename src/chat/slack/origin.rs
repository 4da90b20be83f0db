//! Which workspace, Enterprise Grid organisation and app a verified Slack request names, and
//! whether costbot is configured for it. A valid signature proves the request came from
//! Slack for this app, not that it came from the workspace costbot serves: an app installed
//! in a second workspace signs that workspace's requests with the same secret.

use std::collections::HashMap;

use serde_json::Value;
use slack_morphism::prelude::{SlackCommandEvent, SlackInteractionEvent};

/// The ids a request names; each may be absent (an enterprise id only appears on Grid).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// `team_id` (`T…`).
    pub team: Option<String>,
    /// `enterprise_id` (`E…`).
    pub enterprise: Option<String>,
    /// `api_app_id` (`A…`).
    pub app: Option<String>,
}

impl Origin {
    /// The ids in a slash command's form body.
    pub fn of_command(body: &[u8]) -> Origin {
        let fields: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let get = |name: &str| fields.get(name).filter(|v| !v.is_empty()).cloned();
        Origin { team: get("team_id"), enterprise: get("enterprise_id"), app: get("api_app_id") }
    }

    /// The ids in an interaction's `payload` JSON (`team.id`, `enterprise.id` or
    /// `team.enterprise_id`, `api_app_id`).
    pub fn of_interaction(body: &[u8]) -> Origin {
        let fields: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let payload: Value = fields.get("payload").and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default();
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        Origin {
            team: text(&payload["team"]["id"]),
            enterprise: text(&payload["enterprise"]["id"]).or_else(|| text(&payload["team"]["enterprise_id"])),
            app: text(&payload["api_app_id"]),
        }
    }
}

impl Origin {
    /// The ids a Socket Mode slash command names, as slack-morphism hands it over: the
    /// workspace only (it keeps no enterprise or app id).
    pub fn of_socket_command(event: &SlackCommandEvent) -> Origin {
        Origin { team: Some(event.team_id.to_string()), enterprise: None, app: None }
    }

    /// The ids a Socket Mode interaction names, as slack-morphism hands it over: the workspace
    /// and, for button clicks, the app (it keeps no enterprise id).
    pub fn of_socket_interaction(event: &SlackInteractionEvent) -> Origin {
        match event {
            SlackInteractionEvent::BlockActions(e) => {
                Origin { team: Some(e.team.id.to_string()), enterprise: None, app: Some(e.api_app_id.to_string()) }
            }
            _ => Origin::default(),
        }
    }
}

/// The configured ids (`[slack] team_ids`, `enterprise_ids`, `app_ids`). An empty list admits
/// any value; a non-empty one requires the request to name one of its ids.
#[derive(Debug, Clone, Default)]
pub struct Workspaces {
    teams: Vec<String>,
    enterprises: Vec<String>,
    apps: Vec<String>,
}

impl Workspaces {
    /// The allowed workspace, enterprise and app ids.
    pub fn new(teams: Vec<String>, enterprises: Vec<String>, apps: Vec<String>) -> Workspaces {
        Workspaces { teams, enterprises, apps }
    }

    /// Why an HTTP request's `origin` is refused (for the audit log), or `None` when it is
    /// admitted. Every configured list is checked; an id the request does not name is refused.
    pub fn refusal(&self, origin: &Origin) -> Option<String> {
        let checks = [("workspace", &self.teams, &origin.team), ("enterprise", &self.enterprises, &origin.enterprise)];
        Self::first_refusal(checks.into_iter().chain([("app", &self.apps, &origin.app)]))
    }

    /// Why a Socket Mode event's `origin` is refused, or `None` when it is admitted. The
    /// workspace is checked as over HTTP. The app is checked where the event names it
    /// (clicks); a command's app is the socket's own, since the app-level token that opened
    /// the socket belongs to one app. slack-morphism keeps no enterprise id, so
    /// `enterprise_ids` cannot be checked here: configuration refuses Socket Mode with
    /// `enterprise_ids` but no `team_ids`, which would leave the boundary unchecked.
    pub fn socket_refusal(&self, origin: &Origin) -> Option<String> {
        let app = origin.app.is_some().then_some(("app", &self.apps, &origin.app));
        Self::first_refusal([("workspace", &self.teams, &origin.team)].into_iter().chain(app))
    }

    fn first_refusal<'a>(
        checks: impl Iterator<Item = (&'a str, &'a Vec<String>, &'a Option<String>)>,
    ) -> Option<String> {
        for (what, allowed, named) in checks {
            let admitted = allowed.is_empty() || named.as_ref().is_some_and(|id| allowed.contains(id));
            if !admitted {
                let named = named.as_deref().map(|id| super::render::truncate(id, 40)).unwrap_or_else(|| "none".into());
                return Some(format!("slack {what} {named} is not configured"));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_ids_are_required_and_empty_lists_admit_anything() {
        let origin = Origin { team: Some("T1".into()), enterprise: None, app: Some("A1".into()) };
        assert_eq!(Workspaces::default().refusal(&origin), None);
        let ours = Workspaces::new(vec!["T1".into()], vec![], vec!["A1".into()]);
        assert_eq!(ours.refusal(&origin), None);
        let foreign = Origin { team: Some("T9".into()), ..origin.clone() };
        assert_eq!(ours.refusal(&foreign).as_deref(), Some("slack workspace T9 is not configured"));
        let grid = Workspaces::new(vec![], vec!["E1".into()], vec![]);
        assert_eq!(grid.refusal(&origin).as_deref(), Some("slack enterprise none is not configured"));
        let other_app = Origin { app: Some("A2".into()), ..origin };
        assert_eq!(ours.refusal(&other_app).as_deref(), Some("slack app A2 is not configured"));
    }

    #[test]
    fn socket_mode_checks_the_workspace_and_a_clicks_app() {
        let ours = Workspaces::new(vec!["T1".into()], vec!["E1".into()], vec!["A1".into()]);
        let command = Origin { team: Some("T1".into()), enterprise: None, app: None };
        assert_eq!(ours.socket_refusal(&command), None, "a command's app is the socket's own");
        let foreign = Origin { team: Some("T9".into()), ..command.clone() };
        assert_eq!(ours.socket_refusal(&foreign).as_deref(), Some("slack workspace T9 is not configured"));
        let other_app = Origin { app: Some("A2".into()), ..command };
        assert_eq!(ours.socket_refusal(&other_app).as_deref(), Some("slack app A2 is not configured"));
        assert_eq!(ours.socket_refusal(&Origin::default()).as_deref(), Some("slack workspace none is not configured"));
    }

    #[test]
    fn ids_are_read_from_both_body_kinds() {
        let command = Origin::of_command(b"team_id=T1&enterprise_id=E1&api_app_id=A1&text=x");
        assert_eq!(command, Origin { team: Some("T1".into()), enterprise: Some("E1".into()), app: Some("A1".into()) });
        let payload = r#"{"team":{"id":"T2","enterprise_id":"E2"},"api_app_id":"A2"}"#;
        let body = serde_urlencoded::to_string([("payload", payload)]).unwrap();
        let click = Origin::of_interaction(body.as_bytes());
        assert_eq!(click, Origin { team: Some("T2".into()), enterprise: Some("E2".into()), app: Some("A2".into()) });
        assert_eq!(Origin::of_interaction(b"payload=%7B"), Origin::default());
    }
}
