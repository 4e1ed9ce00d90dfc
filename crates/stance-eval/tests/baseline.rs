//! The lexicon on the codebook's own wording (CODEBOOK.md, "typical wording"
//! column and decision rules), and the majority baseline.

use stance_eval::baseline::{
    majority, majority_predictions, Lexicon, CANONICAL_LABELS, COMMITMENT, CONDEMNATION,
    DIPLOMATIC_OPENING, OTHER,
};

fn check(lex: &Lexicon, text: &str, want: usize) {
    let d = lex.explain(text);
    assert_eq!(
        d.label, want,
        "{text:?}: got {}, want {} (matched {:?}, negated {:?})",
        CANONICAL_LABELS[d.label], CANONICAL_LABELS[want], d.matched, d.negated
    );
}

#[test]
fn canonical_order() {
    assert_eq!(
        CANONICAL_LABELS,
        ["condemnation", "commitment", "diplomatic-opening", "other"]
    );
    assert_eq!(
        (CONDEMNATION, COMMITMENT, DIPLOMATIC_OPENING, OTHER),
        (0, 1, 2, 3)
    );
}

#[test]
fn codebook_typical_wording() {
    let lex = Lexicon::new();
    let cases = [
        ("The foreign ministry condemned the launch.", CONDEMNATION),
        (
            "We strongly oppose any attempt to change the status quo by force.",
            CONDEMNATION,
        ),
        (
            "The council urged an immediate halt to the shelling.",
            CONDEMNATION,
        ),
        ("Any such test will face a firm response.", CONDEMNATION),
        (
            "Seoul expressed serious concern over the missile launch.",
            CONDEMNATION,
        ),
        (
            "Washington reaffirmed its ironclad commitment to the defence of Japan.",
            COMMITMENT,
        ),
        (
            "The ministers agreed to hold the next meeting in Seoul.",
            COMMITMENT,
        ),
        (
            "The three countries will continue to work together.",
            COMMITMENT,
        ),
        ("Japan pledged $1 billion in aid.", COMMITMENT),
        ("The two navies decided to establish a hotline.", COMMITMENT),
        ("The door to dialogue remains open.", DIPLOMATIC_OPENING),
        (
            "We are ready to meet without preconditions.",
            DIPLOMATIC_OPENING,
        ),
        (
            "We call on all parties to return to negotiations.",
            DIPLOMATIC_OPENING,
        ),
        ("We welcome any step toward talks.", DIPLOMATIC_OPENING),
        ("The talks were first held in 2008.", OTHER),
        (
            "They exchanged assessments of the security environment.",
            OTHER,
        ),
        ("This is read as a message to Beijing.", OTHER),
    ];
    for (text, want) in cases {
        check(&lex, text, want);
    }
}

#[test]
fn decision_rules() {
    let lex = Lexicon::new();
    // Rule 1: precedence, with the runner-up recorded.
    let d = lex.explain("We condemn the test and call on Pyongyang to return to dialogue.");
    assert_eq!(d.label, DIPLOMATIC_OPENING);
    assert_eq!(d.runner_up, Some(CONDEMNATION));
    // Rule 2: importance with no pledge is other; remaining committed is a commitment.
    check(
        &lex,
        "They stressed the importance of peace and stability in the Strait.",
        OTHER,
    );
    check(
        &lex,
        "We remain committed to upholding peace and stability.",
        COMMITMENT,
    );
    // Rules 4 and 11: concern about a situation is other, about conduct condemnation.
    check(
        &lex,
        "The ministers voiced concern about the famine in the region.",
        OTHER,
    );
    check(
        &lex,
        "We are deeply concerned about the humanitarian situation.",
        OTHER,
    );
    check(
        &lex,
        "We are concerned about recent developments in the region.",
        CONDEMNATION,
    );
    // Rule 6: negation and questions.
    let d = lex.explain("The minister did not condemn the exercise.");
    assert_eq!(d.label, OTHER);
    assert_eq!(d.negated, vec![(CONDEMNATION, "condemn*".to_string())]);
    check(&lex, "Beijing has not yet condemned the exercise.", OTHER);
    let d = lex.explain("Will Moscow condemn the strike?");
    assert!(d.question);
    assert_eq!(d.label, OTHER);
    check(
        &lex,
        "If a test is conducted, it will face a strong response and grave consequences.",
        CONDEMNATION,
    );
    // Rule 9: a call on everyone for restraint is an opening.
    check(
        &lex,
        "We call on all parties to exercise maximum restraint.",
        DIPLOMATIC_OPENING,
    );
}

#[test]
fn probabilities() {
    let lex = Lexicon::default();
    let (label, p) = lex.classify("The foreign ministry condemned the launch.");
    assert_eq!(label, CONDEMNATION);
    assert_eq!(p, [0.7, 0.1, 0.1, 0.1]);
    let (label, p) = lex.classify("Nothing happened on Tuesday.");
    assert_eq!(label, OTHER);
    assert_eq!(p, [0.1, 0.1, 0.1, 0.7]);
    let (_, p) = lex.classify("We condemn the test and call on Pyongyang to return to dialogue.");
    let want = [0.2f32, 0.1, 0.6, 0.1];
    for (a, b) in p.iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{p:?}");
    }
    for text in ["", "?", "We pledge support.", "Talks, talks, talks"] {
        let (label, p) = lex.classify(text);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let top = p.iter().copied().fold(f32::MIN, f32::max);
        assert_eq!(p[label], top);
    }
}

#[test]
fn custom_cues() {
    let lex = Lexicon::with_cues(&["parley"], &["tut-tut*"], &["promise ... keep"]);
    check(&lex, "They asked for a parley.", DIPLOMATIC_OPENING);
    check(&lex, "Officials tut-tutted loudly.", CONDEMNATION);
    check(&lex, "We promise to keep going.", COMMITMENT);
    check(&lex, "They condemned it.", OTHER);
}

#[test]
fn majority_baseline() {
    assert_eq!(majority(&[3, 0, 3, 1, 3, 0]), Some(3));
    // Ties go to the lowest index.
    assert_eq!(majority(&[2, 1, 1, 2]), Some(1));
    assert_eq!(majority(&[]), None);
    assert_eq!(majority_predictions(&[0, 2, 2], 4), vec![2, 2, 2, 2]);
    assert!(majority_predictions(&[], 4).is_empty());
}
