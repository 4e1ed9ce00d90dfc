//! Snapshot tests: realistic communiqué-like inputs and the expected
//! sentences as `(paragraph, char_start, char_end, text)`.

use stance_segment::{segment, Sentence};

type Snap<'a> = (usize, usize, usize, &'a str);

fn actual(doc: &str) -> Vec<Snap<'_>> {
    segment(doc)
        .iter()
        .map(|s| (s.paragraph, s.char_start, s.char_end, s.text(doc)))
        .collect()
}

fn check(doc: &str, expected: &[Snap<'_>]) {
    let got = actual(doc);
    if got != expected {
        let mut lit = String::new();
        for (p, a, b, t) in &got {
            lit.push_str(&format!("        ({p}, {a}, {b}, {t:?}),\n"));
        }
        panic!("snapshot mismatch; actual:\n{lit}");
    }
    // char offsets agree with Python-style slicing by code points
    let chars: Vec<char> = doc.chars().collect();
    for s in segment(doc) {
        let by_chars: String = chars[s.char_start..s.char_end].iter().collect();
        assert_eq!(by_chars, s.text(doc));
    }
}

const JOINT_STATEMENT: &str = "\
JOINT STATEMENT ON THE TRILATERAL MINISTERIAL MEETING
Washington, D.C., Nov. 14, 2024

The U.S. and the Republic of Korea reaffirmed their ironclad alliance. Gen. Smith, Commander of U.S. Forces Korea, briefed the ministers on the security situation.
The ministers announced a $1.5 billion package. Defense spending in the region rose 6.7% last year. Resolution No. 2 was adopted unanimously.
He said, “We condemn this.” The ministers agreed to meet again in the U.S. They also condemned the launch.
The ministers:
1. Condemned the DPRK’s ballistic missile launches.
2. Called on all U.N. Member States to fully implement relevant resolutions, e.g. Resolution 2397.
(a) Reaffirmed the commitment to the complete denuclearization of the Korean Peninsula.
Dr. Kim and Amb. J. R. Smith attended! What comes next? The ministers will decide.
";

#[test]
fn joint_statement() {
    check(JOINT_STATEMENT, &[
        (0, 0, 53, "JOINT STATEMENT ON THE TRILATERAL MINISTERIAL MEETING"),
        (1, 54, 85, "Washington, D.C., Nov. 14, 2024"),
        (2, 87, 157, "The U.S. and the Republic of Korea reaffirmed their ironclad alliance."),
        (2, 158, 250, "Gen. Smith, Commander of U.S. Forces Korea, briefed the ministers on the security situation."),
        (3, 251, 298, "The ministers announced a $1.5 billion package."),
        (3, 299, 350, "Defense spending in the region rose 6.7% last year."),
        (3, 351, 392, "Resolution No. 2 was adopted unanimously."),
        (4, 393, 420, "He said, “We condemn this.”"),
        (4, 421, 467, "The ministers agreed to meet again in the U.S."),
        (4, 468, 499, "They also condemned the launch."),
        (5, 500, 514, "The ministers:"),
        (6, 515, 517, "1."),
        (6, 518, 566, "Condemned the DPRK’s ballistic missile launches."),
        (7, 567, 569, "2."),
        (7, 570, 665, "Called on all U.N. Member States to fully implement relevant resolutions, e.g. Resolution 2397."),
        (8, 666, 753, "(a) Reaffirmed the commitment to the complete denuclearization of the Korean Peninsula."),
        (9, 754, 792, "Dr. Kim and Amb. J. R. Smith attended!"),
        (9, 793, 809, "What comes next?"),
        (9, 810, 836, "The ministers will decide."),
    ]);
}

const NEWS_PAGE: &str = "\
Quick access to main page (top) Direct access to main contents Quick access to main page (bottom)\r
\r
Allies Condemn Missile Launch\r
\r
By Jane Doe  |  Published 2024.05.27 09:12\r
\r
Menu\r
Home  News  Politics\r
\r
SEOUL, May 27 (Yonhap) -- South Korea, the U.S. and Japan on Monday condemned North Korea’s launch of a military reconnaissance satellite. The launch violated U.N. Security Council resolutions, the three countries said in a joint statement.\r
“We strongly condemn this launch,” Foreign Minister Cho said. “It is a clear provocation.”\r
\r
Related articles\r
  • N. Korea fires ballistic missile... U.S. responds\r
  • Seoul, Tokyo agree to resume talks\r
\r
Copyright (c) Yonhap News Agency. All rights reserved.\r
";

#[test]
fn pasted_news_page() {
    check(NEWS_PAGE, &[
        (0, 0, 97, "Quick access to main page (top) Direct access to main contents Quick access to main page (bottom)"),
        (1, 101, 130, "Allies Condemn Missile Launch"),
        (2, 134, 176, "By Jane Doe  |  Published 2024.05.27 09:12"),
        (3, 180, 184, "Menu"),
        (4, 186, 206, "Home  News  Politics"),
        (5, 210, 348, "SEOUL, May 27 (Yonhap) -- South Korea, the U.S. and Japan on Monday condemned North Korea’s launch of a military reconnaissance satellite."),
        (5, 349, 450, "The launch violated U.N. Security Council resolutions, the three countries said in a joint statement."),
        (6, 452, 513, "“We strongly condemn this launch,” Foreign Minister Cho said."),
        (6, 514, 542, "“It is a clear provocation.”"),
        (7, 546, 562, "Related articles"),
        (8, 566, 603, "• N. Korea fires ballistic missile..."),
        (8, 604, 617, "U.S. responds"),
        (9, 621, 657, "• Seoul, Tokyo agree to resume talks"),
        (10, 661, 694, "Copyright (c) Yonhap News Agency."),
        (10, 695, 715, "All rights reserved."),
    ]);
}

const KOREAN_STYLE_READOUT: &str = "\u{feff}Results of the ROK-U.S. Integrated Defense Dialogue
□ The two sides discussed the following:
 △North Korea’s nuclear and missile advancement △the possibility of military provocations △and extended deterrence.
 ○ The ROK side explained its defense reform. The U.S. side welcomed it.
 - Both sides agreed to hold the next KIDD in Seoul.
※ The dialogue was held on Sept. 18 at the Ministry of National Defense.
";

#[test]
fn korean_style_readout_with_markers() {
    check(KOREAN_STYLE_READOUT, &[
        (0, 1, 52, "Results of the ROK-U.S. Integrated Defense Dialogue"),
        (1, 53, 93, "□ The two sides discussed the following:"),
        (2, 95, 209, "△North Korea’s nuclear and missile advancement △the possibility of military provocations △and extended deterrence."),
        (3, 211, 255, "○ The ROK side explained its defense reform."),
        (3, 256, 282, "The U.S. side welcomed it."),
        (4, 284, 335, "- Both sides agreed to hold the next KIDD in Seoul."),
        (5, 336, 408, "※ The dialogue was held on Sept. 18 at the Ministry of National Defense."),
    ]);
}

const MULTILINGUAL: &str = "日米韓防衛相会談\u{2028}三か国は北朝鮮の弾道ミサイル発射を非難した。「断じて容認できない」と述べた。\u{2029}中方表示：“坚决反对。”会谈结束。\rThe sides met… and agreed. 😀 Done!";

#[test]
fn multilingual_and_odd_line_breaks() {
    check(
        MULTILINGUAL,
        &[
            (0, 0, 8, "日米韓防衛相会談"),
            (1, 9, 31, "三か国は北朝鮮の弾道ミサイル発射を非難した。"),
            (1, 31, 47, "「断じて容認できない」と述べた。"),
            (2, 48, 60, "中方表示：“坚决反对。”"),
            (2, 60, 65, "会谈结束。"),
            (3, 66, 92, "The sides met… and agreed."),
            (3, 93, 100, "😀 Done!"),
        ],
    );
}

#[test]
fn sentence_struct_fields() {
    let doc = "Title\n  • “We agree.” Next.";
    let s = segment(doc);
    assert_eq!(
        s,
        vec![
            Sentence {
                paragraph: 0,
                index: 0,
                byte_start: 0,
                byte_end: 5,
                char_start: 0,
                char_end: 5
            },
            Sentence {
                paragraph: 1,
                index: 1,
                byte_start: 8,
                byte_end: 27,
                char_start: 8,
                char_end: 21
            },
            Sentence {
                paragraph: 1,
                index: 2,
                byte_start: 28,
                byte_end: 33,
                char_start: 22,
                char_end: 27
            },
        ]
    );
}
