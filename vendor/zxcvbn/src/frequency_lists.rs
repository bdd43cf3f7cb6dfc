use fst::Map;

#[derive(Copy, Clone, Debug, Eq, PartialEq, Hash, Default)]
#[cfg_attr(feature = "ser", derive(serde::Deserialize, serde::Serialize))]
pub enum DictionaryType {
    #[default]
    Passwords,
    English,
    FemaleNames,
    MaleNames,
    Surnames,
    UsTvAndFilm,
    UserInputs,
}

// The fork's one change (see FORK.md): the ranked dictionaries are finite-state transducers
// (word -> rank) built by build.rs at compile time from the same lists, so the first check in a
// process no longer builds six hash maps of about 94,000 words (11-25 ms); opening one is
// reading its header.
lazy_static! {
    pub(crate) static ref RANKED_DICTIONARIES: [(DictionaryType, Map<&'static [u8]>); 6] = [
        (
            DictionaryType::Passwords,
            ranked(include_bytes!(concat!(env!("OUT_DIR"), "/passwords.fst")))
        ),
        (
            DictionaryType::English,
            ranked(include_bytes!(concat!(
                env!("OUT_DIR"),
                "/english_wiki.fst"
            )))
        ),
        (
            DictionaryType::FemaleNames,
            ranked(include_bytes!(concat!(
                env!("OUT_DIR"),
                "/female_names.fst"
            )))
        ),
        (
            DictionaryType::MaleNames,
            ranked(include_bytes!(concat!(env!("OUT_DIR"), "/male_names.fst")))
        ),
        (
            DictionaryType::Surnames,
            ranked(include_bytes!(concat!(env!("OUT_DIR"), "/surnames.fst")))
        ),
        (
            DictionaryType::UsTvAndFilm,
            ranked(include_bytes!(concat!(
                env!("OUT_DIR"),
                "/us_tv_and_film.fst"
            )))
        ),
    ];
}

fn ranked(bytes: &'static [u8]) -> Map<&'static [u8]> {
    Map::new(bytes).expect("build.rs writes valid FSTs")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    include!("../words.rs");

    #[test]
    fn each_transducer_holds_what_upstreams_hash_map_held() {
        let lists = [
            PASSWORDS,
            ENGLISH_WIKI,
            FEMALE_NAMES,
            MALE_NAMES,
            SURNAMES,
            US_TV_AND_FILM,
        ];
        for ((kind, map), list) in RANKED_DICTIONARIES.iter().zip(lists) {
            // Upstream's construction, verbatim.
            let upstream: HashMap<&str, usize> = list
                .split(',')
                .enumerate()
                .map(|(i, x)| (x, i + 1))
                .collect();
            assert_eq!(map.len(), upstream.len(), "{kind:?}");
            for (word, rank) in &upstream {
                assert_eq!(map.get(word), Some(*rank as u64), "{kind:?} {word}");
            }
        }
    }
}
