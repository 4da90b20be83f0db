//! The fixed tuning / untuned split of an evaluation corpus.
//!
//! Parameters may only be chosen on the tuning part; the untuned part is reported beside it
//! so over-fitting shows as a gap. The split is a pure function of the relative file name
//! (`"<category>/<file>.csv"`), so it is the same on every machine, for every detector, and
//! for files that are not present yet (the held-back NAB categories land wherever their
//! names put them, and are untuned anyway). It is stratified: within each category the files
//! are ordered by an FNV-1a hash of their name and alternate between the two parts, so every
//! category with two or more files is on both sides and no category is tuned on wholesale.

use std::collections::BTreeMap;

/// Which side of the split a file is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// Parameters and thresholds may be chosen on these files.
    Tuning,
    /// Never looked at while choosing anything; reported beside the tuning part.
    Untuned,
}

/// 64-bit FNV-1a, a stable hash that does not depend on the standard library's seed.
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The category of a relative name (the folder; the whole name when it has none).
pub fn category(name: &str) -> &str {
    name.split_once('/').map_or(name, |(c, _)| c)
}

/// Assign each name to a part: per category, sorted by hash, odd positions tune.
///
/// So a category with an odd number of files has one more untuned file than tuning files,
/// and a category of one file is untuned: the untuned part is never the smaller one.
pub fn assign(names: &[String]) -> BTreeMap<String, Part> {
    alternate(names.iter(), "")
        .into_iter()
        .map(|(n, odd)| (n, if odd { Part::Tuning } else { Part::Untuned }))
        .collect()
}

/// Per category, `names` ordered by the FNV-1a hash of `salt + name` (then by name), each
/// marked with whether its position is odd. `assign` and `tuning_folds` differ only in the
/// names they pass and the salt, so the two splits are drawn the same way but independently.
fn alternate<'a>(names: impl Iterator<Item = &'a String>, salt: &str) -> BTreeMap<String, bool> {
    let mut by_cat: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for n in names {
        by_cat.entry(category(n)).or_default().push(n);
    }
    let mut out = BTreeMap::new();
    for (_, mut files) in by_cat {
        files.sort_by_key(|n| (fnv1a(&format!("{salt}{n}")), n.as_str()));
        for (i, n) in files.into_iter().enumerate() {
            out.insert(n.clone(), i % 2 == 1);
        }
    }
    out
}

/// Two folds of the tuning part, for choosing parameters by cross-validation inside it: per
/// category, the tuning files ordered by the FNV-1a hash of `"fold:" + name` alternate between
/// fold 0 and fold 1. Untuned files get no fold (they are not looked at while choosing).
///
/// A choice scored by thresholding one fold and scoring the other estimates how it does on
/// files it was not fitted on, which the in-sample tuning score cannot: the untuned part
/// stays the final, rarely looked-at check.
pub fn tuning_folds(names: &[String]) -> BTreeMap<String, u8> {
    let parts = assign(names);
    let tuning = names.iter().filter(|n| parts.get(*n) == Some(&Part::Tuning));
    alternate(tuning, "fold:").into_iter().map(|(n, odd)| (n, u8::from(odd))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_values() {
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn every_category_is_on_both_sides_and_untuned_is_never_smaller() {
        let names: Vec<String> = (0..5)
            .map(|i| format!("a/{i}.csv"))
            .chain((0..4).map(|i| format!("b/{i}.csv")))
            .chain(["c/only.csv".to_string()])
            .collect();
        let parts = assign(&names);
        let count = |cat: &str, p: Part| parts.iter().filter(|(n, q)| category(n) == cat && **q == p).count();
        assert_eq!((count("a", Part::Tuning), count("a", Part::Untuned)), (2, 3));
        assert_eq!((count("b", Part::Tuning), count("b", Part::Untuned)), (2, 2));
        assert_eq!((count("c", Part::Tuning), count("c", Part::Untuned)), (0, 1));
        // Stable: the same names give the same split in any order.
        let mut rev = names.clone();
        rev.reverse();
        assert_eq!(assign(&rev), parts);
    }

    #[test]
    fn folds_cover_exactly_the_tuning_part_and_split_each_category() {
        let names: Vec<String> =
            (0..8).map(|i| format!("a/{i}.csv")).chain((0..4).map(|i| format!("b/{i}.csv"))).collect();
        let parts = assign(&names);
        let folds = tuning_folds(&names);
        for n in &names {
            assert_eq!(folds.contains_key(n), parts[n] == Part::Tuning, "{n}");
        }
        let count = |cat: &str, f: u8| folds.iter().filter(|(n, g)| category(n) == cat && **g == f).count();
        assert_eq!((count("a", 0), count("a", 1)), (2, 2));
        assert_eq!((count("b", 0), count("b", 1)), (1, 1));
    }
}
