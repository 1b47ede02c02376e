//! "Did you mean" hints for misspelt keys and names.

use crate::error::Error;

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The help for `name`, which is none of `known`: the closest known name when `name` is likely
/// a typo of it, otherwise every known name after `listing`.
pub fn help_for_unknown(name: &str, known: &[&str], listing: &str) -> String {
    match did_you_mean(name, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => format!("{listing}: none"),
        None => format!("{listing}: {}", known.join(", ")),
    }
}

/// Refuses the first name of `wanted` that is none of `known`: a usage error whose message
/// `unknown` words, with [`help_for_unknown`] as its help.
pub fn refuse_unknown(
    wanted: &[String],
    known: &[&str],
    unknown: impl Fn(&str) -> String,
    listing: &str,
) -> Result<(), Error> {
    match wanted.iter().find(|name| !known.contains(&name.as_str())) {
        Some(name) => Err(Error::Usage {
            message: unknown(name),
            help: Some(help_for_unknown(name, known, listing)),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::help_for_unknown;

    #[test]
    fn the_help_lists_the_names_or_says_there_are_none() {
        let listing = "the manifest defines";
        assert_eq!(
            help_for_unknown("prod", &["staging"], listing),
            "the manifest defines: staging"
        );
        assert_eq!(help_for_unknown("staging", &[], listing), "the manifest defines: none");
        assert_eq!(help_for_unknown("stagin", &["staging"], listing), "did you mean `staging`?");
        let services = "services deployed to `staging`";
        assert_eq!(help_for_unknown("api", &[], services), "services deployed to `staging`: none");
    }
}
