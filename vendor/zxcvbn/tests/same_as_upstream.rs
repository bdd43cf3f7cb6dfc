//! The fork must judge every password exactly as the crate it is forked from: the same guesses
//! (the fewest over every way of splitting the password into matches, so any rank that differed
//! would show) and score, with and without user inputs. Which of several equally good splits is
//! reported, and so the feedback's wording, upstream leaves to the order of its HashMaps: it
//! changes from one run to the next there too, so it is not compared.

include!("../words.rs");

fn same(password: &str, inputs: &[&str]) {
    let ours = zxcvbn::zxcvbn(password, inputs);
    let theirs = upstream::zxcvbn(password, inputs);
    assert_eq!(ours.guesses(), theirs.guesses(), "guesses of {password:?}");
    assert_eq!(
        ours.score() as u8,
        theirs.score() as u8,
        "score of {password:?}"
    );
}

#[test]
fn passwords_of_every_kind_score_as_upstream() {
    let fixed = [
        "password",
        "P@ssw0rd1",
        "correct horse battery staple",
        "Tr0ub4dour&3",
        "qwertyuiop",
        "zxcvbn",
        "1q2w3e4r5t",
        "abcdefgh",
        "aaaaaaaaaa",
        "13/12/1991",
        "johnsmith1985",
        "Michael!",
        "elizabeth2020",
        "drowssap",
        "iloveyou123",
        "the quick brown fox",
        "Jennifer Lopez",
        "letmein!",
        "monkey99",
        "1234567890",
        "hello world",
        "s3cur1ty",
        "ShadowMaster",
        "correcthorsebatterystaple",
        "rosebud",
        "123abc!@#",
        "ncc1701d",
        "WILLIAMS",
        "anderson.silva",
        "!@#$%^&*()",
        "ĂĄñ€日本語パスワード",
        "",
    ];
    for p in fixed {
        same(p, &[]);
        same(p, &["alice", "alice@example.com", "smith"]);
    }
}

#[test]
fn words_of_every_list_rank_as_upstream() {
    // Every 40th word of each list (about 2,400), as it is and capitalized: each is matched
    // whole, so its guesses are its rank in the list that ranks it best.
    for list in [
        PASSWORDS,
        ENGLISH_WIKI,
        FEMALE_NAMES,
        MALE_NAMES,
        SURNAMES,
        US_TV_AND_FILM,
    ] {
        for word in list.split(',').step_by(40) {
            same(word, &[]);
            let mut capitalized = word.to_string();
            capitalized[..1].make_ascii_uppercase();
            same(&capitalized, &[]);
        }
    }
}
