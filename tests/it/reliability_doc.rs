//! `docs/reliability.md` names a test for every failure scenario; each named test must exist,
//! so the table cannot drift from the tests it cites.

#[test]
fn every_test_named_in_the_reliability_doc_exists() {
    let root = env!("CARGO_MANIFEST_DIR");
    let doc = std::fs::read_to_string(format!("{root}/docs/reliability.md")).unwrap();
    let mut sources = String::new();
    for dir in ["src", "tests/it"] {
        collect(&std::path::Path::new(root).join(dir), &mut sources);
    }
    let named: Vec<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.contains("::") && span.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter_map(|path| path.rsplit("::").next())
        .filter(|name| name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && name.contains('_'))
        .collect();
    assert!(named.len() > 20, "the doc names its tests: {named:?}");
    let missing: Vec<&&str> = named.iter().filter(|name| !sources.contains(&format!("fn {name}("))).collect();
    assert!(missing.is_empty(), "docs/reliability.md names tests that do not exist: {missing:?}");
}

fn collect(dir: &std::path::Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}
