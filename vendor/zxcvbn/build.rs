// The fork's build step (see FORK.md): each of zxcvbn's six ranked word lists becomes a
// finite-state transducer (word -> rank, rank 1 the most common) in OUT_DIR, which
// src/frequency_lists.rs includes as bytes. Ranks are as upstream's `collect()` into a HashMap
// gives them: the 1-based position in the list, the last one for a word listed twice.

use std::collections::BTreeMap;
use std::path::PathBuf;

include!("words.rs");

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (file, list) in [
        ("passwords", PASSWORDS),
        ("english_wiki", ENGLISH_WIKI),
        ("female_names", FEMALE_NAMES),
        ("male_names", MALE_NAMES),
        ("surnames", SURNAMES),
        ("us_tv_and_film", US_TV_AND_FILM),
    ] {
        let mut ranks = BTreeMap::new();
        for (i, word) in list.split(',').enumerate() {
            ranks.insert(word, i as u64 + 1);
        }
        // A BTreeMap of &str iterates in byte order, the order an FST is built in.
        let map = fst::Map::from_iter(ranks).expect("sorted, distinct words");
        std::fs::write(out.join(format!("{file}.fst")), map.as_fst().as_bytes())
            .expect("write to OUT_DIR");
    }
    println!("cargo:rerun-if-changed=words.rs");
    println!("cargo:rerun-if-changed=build.rs");
}
