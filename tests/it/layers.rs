//! The import rules of `docs/ARCHITECTURE.md`, checked mechanically by reading `src/`.
//!
//! Layers point one way: `domain` at the bottom, `store` on it, the adapters at the edge, jobs
//! and wiring on top. Each rule below is one sentence of ARCHITECTURE's "Invariants"; a change
//! that breaks one fails here with the file and the path it named.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One `src/` file: its module path (`chat::slack` for `src/chat/slack/api.rs`) and text.
struct Source {
    path: PathBuf,
    module: Vec<String>,
    text: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&root).expect("under src").to_path_buf();
                let mut module: Vec<String> =
                    rel.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
                if module.last().is_some_and(|m| m == "mod" || m == "lib" || m == "main") {
                    module.pop();
                }
                let text = std::fs::read_to_string(&path).expect("a source file is text");
                out.push(Source { path: rel, module, text: strip_comments(&text) });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Drops `//` comments (doc comments included) so prose that names a module is not an import.
fn strip_comments(text: &str) -> String {
    text.lines().map(|line| line.split_once("//").map_or(line, |(code, _)| code)).collect::<Vec<_>>().join("\n")
}

/// Every crate path a file names, as full module paths from the crate root: `crate::a::b`,
/// `$crate::a::b`, `super::b` (resolved against the file's module) and brace groups
/// (`crate::{a::b, c}`) expanded.
fn crate_paths(source: &Source) -> BTreeSet<String> {
    let text = &source.text;
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let prefix = if boundary && rest.starts_with("crate::") {
            Some((Vec::new(), "crate::".len()))
        } else if boundary && rest.starts_with("super::") {
            let mut base = source.module.clone();
            let mut len = 0;
            while text[i + len..].starts_with("super::") {
                base.pop();
                len += "super::".len();
            }
            Some((base, len))
        } else {
            None
        };
        match prefix {
            Some((base, len)) => {
                let (paths, used) = parse_tree(&text[i + len..]);
                for p in paths {
                    let mut full = base.clone();
                    full.extend(p);
                    out.insert(full.join("::"));
                }
                i += len + used.max(1);
            }
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    out
}

/// Parses a use-tree (`a::b`, `a::{b, c::d}`) at the start of `text`; returns the paths and
/// how many bytes it read.
fn parse_tree(text: &str) -> (Vec<Vec<String>>, usize) {
    let ident_len = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    if text.starts_with('{') {
        let mut depth = 0;
        let mut end = text.len();
        for (k, c) in text.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = k;
                        break;
                    }
                }
                _ => {}
            }
        }
        let inner = &text[1..end];
        let mut paths = Vec::new();
        let mut start = 0;
        let mut depth = 0;
        for (k, c) in inner.char_indices().chain(std::iter::once((inner.len(), ','))) {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    let item = inner[start..k].trim();
                    if !item.is_empty() {
                        paths.extend(parse_tree(item).0);
                    }
                    start = k + 1;
                }
                _ => {}
            }
        }
        return (paths, end + 1);
    }
    if ident_len == 0 {
        return (vec![Vec::new()], 0);
    }
    let ident = text[..ident_len].to_string();
    let after = &text[ident_len..];
    if let Some(next) = after.strip_prefix("::") {
        let (subs, used) = parse_tree(next);
        let paths = subs
            .into_iter()
            .map(|mut p| {
                p.insert(0, ident.clone());
                p
            })
            .collect();
        return (paths, ident_len + 2 + used);
    }
    (vec![vec![ident]], ident_len)
}

/// True when `path` (`chat::slack::api::X`) is inside module `module` (`chat::slack`).
fn within(path: &str, module: &str) -> bool {
    path == module || path.starts_with(&format!("{module}::"))
}

fn module_of(source: &Source) -> String {
    source.module.join("::")
}

/// The violations of one rule: (file, offending path).
fn violations(applies: impl Fn(&str) -> bool, allowed: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for source in sources() {
        let module = module_of(&source);
        if !applies(&module) {
            continue;
        }
        for path in crate_paths(&source) {
            // An empty path is `super::*` in a top-level file's inline test module.
            if !path.is_empty() && !within(&path, &module) && !allowed(&path) {
                out.push(format!("{} names crate::{path}", source.path.display()));
            }
        }
    }
    out
}

fn assert_none(rule: &str, found: Vec<String>) {
    assert!(found.is_empty(), "{rule}:\n  {}", found.join("\n  "));
}

#[test]
fn domain_names_nothing_above_it() {
    let found = violations(|m| within(m, "domain"), |p| within(p, "domain"));
    assert_none("domain must import only domain", found);
}

#[test]
fn store_names_only_domain() {
    let found = violations(|m| within(m, "store"), |p| within(p, "domain") || within(p, "store"));
    assert_none("store must import only domain", found);
}

/// The jobs and the wiring: the top layer, which only wiring and other jobs may name.
const JOBS_AND_WIRING: [&str; 18] = [
    "owners",
    "collector",
    "detection",
    "discovery",
    "proposals",
    "execution",
    "schedules",
    "digest",
    "budgets",
    "answers",
    "ask",
    "bot",
    "scheduler",
    "leadership",
    "app",
    "cli",
    "doctor",
    "server",
];

#[test]
fn adapters_name_no_job_or_wiring_module() {
    let adapters = ["aws", "chat::slack", "chat::discord", "chat::console", "web"];
    let found =
        violations(|m| adapters.iter().any(|a| within(m, a)), |p| !JOBS_AND_WIRING.iter().any(|j| within(p, j)));
    assert_none("adapters must not import jobs or wiring", found);
}

#[test]
fn config_names_no_job_wiring_or_adapter() {
    // Configuration is read by every layer above the store; naming one of them would close
    // a circle (it once called the scheduler to parse cron expressions).
    let above = ["aws", "chat", "web", "render", "commands", "metrics"];
    let found =
        violations(|m| within(m, "config"), |p| !JOBS_AND_WIRING.iter().chain(above.iter()).any(|j| within(p, j)));
    assert_none("config may import only domain and store", found);
}

/// External crates that belong to exactly one adapter (or the store).
fn extern_confined(krate: &str, home: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for source in sources() {
        let module = module_of(&source);
        if home.iter().any(|h| within(&module, h)) {
            continue;
        }
        let named = source.text.match_indices(krate).any(|(i, _)| {
            let before = source.text[..i].chars().next_back();
            let after = &source.text[i + krate.len()..];
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && (after.starts_with("::") || krate.ends_with('_'))
        });
        if named {
            out.push(format!("{} uses {krate}", source.path.display()));
        }
    }
    out
}

#[test]
fn aws_sdk_types_stay_in_aws() {
    let mut found = Vec::new();
    for krate in ["aws_sdk_", "aws_config", "aws_smithy_", "aws_credential_types"] {
        found.extend(extern_confined(krate, &["aws"]));
    }
    assert_none("only src/aws may use the AWS SDK", found);
}

#[test]
fn sql_stays_in_store() {
    assert_none("only src/store may use sqlx", extern_confined("sqlx", &["store"]));
}

#[test]
fn slack_and_discord_types_stay_in_their_adapters() {
    let mut found = extern_confined("slack_morphism", &["chat::slack"]);
    found.extend(extern_confined("serenity", &["chat::discord"]));
    assert_none("only chat::slack uses slack-morphism and only chat::discord uses serenity", found);
}

#[test]
fn the_scanner_sees_paths_in_all_their_forms() {
    let source = Source {
        path: PathBuf::from("chat/outbox.rs"),
        module: vec!["chat".into(), "outbox".into()],
        text: "use crate::{store::DynStore, domain::{Money, ids::AccountId}};\n\
               fn f() -> $crate::leadership::Lease { super::message::Message }"
            .into(),
    };
    let paths = crate_paths(&source);
    let expected =
        ["chat::message::Message", "domain::Money", "domain::ids::AccountId", "leadership::Lease", "store::DynStore"];
    assert_eq!(paths.iter().map(String::as_str).collect::<Vec<_>>(), expected);
}
