//! "Did you mean": the known names, closest to a mistyped one first, for the error that
//! refuses an unknown id.

/// `known`, the closest to `wanted` first (edit distance, then name).
pub fn closest_first<'a>(known: impl IntoIterator<Item = &'a str>, wanted: &str) -> Vec<&'a str> {
    let mut ranked: Vec<(usize, &str)> = known
        .into_iter()
        .map(|name| (distance(name, wanted), name))
        .collect();
    ranked.sort();
    ranked.dedup();
    ranked.into_iter().map(|(_, name)| name).collect()
}

/// `unknown component `x` (known: …)`, the known ids closest first.
pub fn unknown_ids<'a>(
    unknown: &[&str],
    known: impl IntoIterator<Item = &'a str> + Clone,
) -> String {
    let list = |id: &str| closest_first(known.clone(), id).join(", ");
    let ids: Vec<String> = unknown.iter().map(|id| format!("`{id}`")).collect();
    let first = unknown.first().copied().unwrap_or_default();
    let plural = if unknown.len() == 1 { "" } else { "s" };
    format!(
        "unknown component{plural} {} (known: {})",
        ids.join(", "),
        list(first)
    )
}

/// Levenshtein distance in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closest_name_comes_first() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(
            closest_first(["svg", "is", "ps"], "xs"),
            ["is", "ps", "svg"]
        );
        assert_eq!(
            unknown_ids(&["pss"], ["is", "ps"]),
            "unknown component `pss` (known: ps, is)"
        );
        assert_eq!(
            unknown_ids(&["a", "b"], ["b2"]),
            "unknown components `a`, `b` (known: b2)"
        );
    }
}
