//! The visible text of an HTML page, as a browser would lay it out in
//! lines: what a user gets by "Save page as" instead of copying the text.
//!
//! This is a forgiving scanner, not a validating parser: it never fails, and
//! markup it cannot make sense of is either skipped (an unterminated tag or
//! comment runs to the end of the page) or kept as text (a `<` that does not
//! start a tag, as in `a < b`).
//!
//! - Block elements (`p`, `div`, `li`, `h1`, `td`, `br`, `button` …) end a
//!   line, so each paragraph, heading, list item, table cell and button is a
//!   line of its own, as the sentence segmenter expects of pasted text.
//! - Inline elements (`a`, `span`, `em` …) join their neighbours without a
//!   space, as a browser shows them.
//! - Runs of whitespace become one space; inside `pre`, line breaks stay.
//! - What a reader does not see is dropped: comments, `script`, `style`,
//!   `template`, `noscript`, `title`, `svg`, `iframe`, `object` and `canvas`
//!   with everything inside them, elements marked `hidden` or styled
//!   `display: none` in their own `style` attribute (with what they hold),
//!   and declarations (`<!DOCTYPE …>`, `<?xml …?>`). Stylesheets are not
//!   read, so what they hide stays.
//! - Character references (`&amp;`, `&rsquo;`, `&#8217;`, `&#x2019;`) are
//!   decoded, with the full HTML5 table of names.
//!
//! Pages are UTF-8 (or UTF-16 with a byte-order mark) like every input, but
//! a page that is not valid UTF-8 and declares a Latin-1 charset
//! (`<meta charset="iso-8859-1">`, `windows-1252`, …: older sites save so) is
//! decoded as windows-1252, as browsers do ([`declared_windows_1252`]).

/// Elements whose content is never shown (or is script, not text).
const HIDDEN: [&str; 9] = [
    "script", "style", "template", "noscript", "title", "svg", "iframe", "object", "canvas",
];

/// Elements that have no content and no end tag.
const VOID: [&str; 13] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

/// Elements that start and end a line of their own.
const BLOCKS: [&str; 49] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "br",
    "button",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "html",
    "legend",
    "li",
    "main",
    "menu",
    "nav",
    "ol",
    "option",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];

/// The visible text of `html`, one line per block (see the module docs).
pub fn visible_text(html: &str) -> String {
    let mut text = Layout::default();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        text.push_text(&rest[..lt]);
        rest = &rest[lt..];
        rest = match markup(rest) {
            Markup::Skip(after) => after,
            Markup::Tag {
                name,
                closing,
                attributes,
                after,
            } => {
                let name = name.to_ascii_lowercase();
                let name = name.as_str();
                if !closing && HIDDEN.contains(&name) {
                    text.line_break();
                    skip_element(after, name)
                } else if !closing
                    && !VOID.contains(&name)
                    && !attributes.trim_end().ends_with('/')
                    && hides(attributes)
                {
                    text.line_break();
                    skip_nested(after, name)
                } else {
                    if BLOCKS.contains(&name) {
                        text.line_break();
                    }
                    if name == "pre" {
                        text.preformatted = !closing;
                    }
                    after
                }
            }
            Markup::Text => {
                text.push_text("<");
                &rest[1..]
            }
        };
    }
    text.push_text(rest);
    text.finish()
}

/// Whether `text` starts (after whitespace and a byte-order mark) as an
/// HTML page does: with `<!DOCTYPE html`, `<html` or an XML declaration
/// followed by either, ignoring case.
pub fn looks_like_html(text: &str) -> bool {
    let mut rest = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if rest.starts_with("<?xml") {
        rest = after_marker(rest, "?>").trim_start();
    }
    while rest.starts_with("<!--") {
        rest = after_marker(&rest[4..], "-->").trim_start();
    }
    let head = rest.as_bytes();
    let starts = |prefix: &str| {
        head.len() >= prefix.len() && head[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    starts("<!doctype html") || starts("<html>") || starts("<html ")
}

/// Whether the start of a page (its first 2 KiB) declares a charset that
/// browsers read as windows-1252: `iso-8859-1`, `latin1`, `windows-1252`,
/// `cp1252`, `us-ascii` and their other WHATWG labels.
pub(crate) fn declared_windows_1252(page: &[u8]) -> bool {
    let head = page[..page.len().min(2048)].to_ascii_lowercase();
    let mut rest = &head[..];
    while let Some(i) = find(rest, b"charset") {
        rest = &rest[i + b"charset".len()..];
        let value = rest
            .iter()
            .position(|b| !(b.is_ascii_whitespace() || matches!(b, b'=' | b'"' | b'\'')));
        let Some(start) = value.filter(|&v| rest[..v].contains(&b'=')) else {
            continue;
        };
        let value = &rest[start..];
        let end = value
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')))
            .unwrap_or(value.len());
        return matches!(
            &value[..end],
            b"iso-8859-1"
                | b"iso8859-1"
                | b"iso_8859-1"
                | b"iso-ir-100"
                | b"latin1"
                | b"latin-1"
                | b"l1"
                | b"cp819"
                | b"ibm819"
                | b"windows-1252"
                | b"cp1252"
                | b"x-cp1252"
                | b"us-ascii"
                | b"ascii"
                | b"ansi_x3.4-1968"
        );
    }
    false
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes windows-1252 (the WHATWG mapping: bytes 0x80–0x9F are the
/// typographic characters, except five that stay C1 controls).
pub(crate) fn decode_windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '\u{20ac}', '\u{81}', '\u{201a}', '\u{192}', '\u{201e}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{2c6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8d}', '\u{17d}',
        '\u{8f}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}',
        '\u{2014}', '\u{2dc}', '\u{2122}', '\u{161}', '\u{203a}', '\u{153}', '\u{9d}', '\u{17e}',
        '\u{178}',
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9f => HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

enum Markup<'a> {
    /// A comment, declaration or processing instruction: nothing to show.
    Skip(&'a str),
    /// A start or end tag; `after` is the page after its `>`.
    Tag {
        name: &'a str,
        closing: bool,
        /// What stands between the name and the `>`.
        attributes: &'a str,
        after: &'a str,
    },
    /// The `<` does not start markup: it is text.
    Text,
}

/// Reads the markup at the start of `s` (which starts with `<`).
fn markup(s: &str) -> Markup<'_> {
    let body = &s[1..];
    if let Some(comment) = body.strip_prefix("!--") {
        return Markup::Skip(after_marker(comment, "-->"));
    }
    if let Some(cdata) = body.strip_prefix("![CDATA[") {
        return Markup::Skip(after_marker(cdata, "]]>"));
    }
    if body.starts_with('!') || body.starts_with('?') {
        return Markup::Skip(after_marker(body, ">"));
    }
    let (closing, tag) = match body.strip_prefix('/') {
        Some(tag) => (true, tag),
        None => (false, body),
    };
    if !tag.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Markup::Text;
    }
    let name_end = tag
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(tag.len());
    let after = after_tag(&tag[name_end..]);
    let attributes_end = tag.len() - after.len();
    Markup::Tag {
        name: &tag[..name_end],
        closing,
        attributes: tag[name_end..attributes_end].trim_end_matches('>'),
        after,
    }
}

/// Whether a start tag's attributes hide the element: a `hidden` attribute
/// (other than `hidden="until-found"`), or `display: none` in its `style`.
fn hides(attributes: &str) -> bool {
    let mut rest = attributes;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return false;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        rest = rest[name_end..].trim_start();
        let mut value = "";
        if let Some(after_equals) = rest.strip_prefix('=') {
            let after_equals = after_equals.trim_start();
            let (v, r) = match after_equals.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let inner = &after_equals[1..];
                    let end = inner.find(quote).unwrap_or(inner.len());
                    (&inner[..end], inner.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after_equals
                        .find(char::is_whitespace)
                        .unwrap_or(after_equals.len());
                    (&after_equals[..end], &after_equals[end..])
                }
            };
            value = v;
            rest = r;
        }
        if name.eq_ignore_ascii_case("hidden") && !value.eq_ignore_ascii_case("until-found") {
            return true;
        }
        if name.eq_ignore_ascii_case("style") {
            let style: String = value
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase();
            if style
                .split(';')
                .any(|d| d == "display:none" || d == "display:none!important")
            {
                return true;
            }
        }
    }
}

/// The page after the end tag that closes an element named `name`, whose
/// start tag has just been read, counting elements of the same name opened
/// inside it; nothing when it never closes.
fn skip_nested<'a>(s: &'a str, name: &str) -> &'a str {
    let mut depth = 1;
    let mut rest = s;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt..];
        rest = match markup(rest) {
            Markup::Tag {
                name: inner,
                closing,
                after,
                ..
            } => {
                let lower = inner.to_ascii_lowercase();
                if !closing && HIDDEN.contains(&lower.as_str()) {
                    skip_element(after, &lower)
                } else {
                    if inner.eq_ignore_ascii_case(name) {
                        if closing {
                            depth -= 1;
                            if depth == 0 {
                                return after;
                            }
                        } else {
                            depth += 1;
                        }
                    }
                    after
                }
            }
            Markup::Skip(after) => after,
            Markup::Text => &rest[1..],
        };
    }
    ""
}

/// The text after a tag's closing `>`, skipping attributes; a `>` inside a
/// quoted attribute value does not close the tag.
fn after_tag(attributes: &str) -> &str {
    let bytes = attributes.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'>' => return &attributes[i + 1..],
            b'=' => {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if let Some(&quote @ (b'"' | b'\'')) = bytes.get(i) {
                    match bytes[i + 1..].iter().position(|&b| b == quote) {
                        Some(len) => i += len + 2,
                        None => return "",
                    }
                }
            }
            _ => i += 1,
        }
    }
    ""
}

/// The text after the first `marker` in `s`, or nothing when it never comes.
fn after_marker<'a>(s: &'a str, marker: &str) -> &'a str {
    s.find(marker).map_or("", |i| &s[i + marker.len()..])
}

/// The page after the end tag of the hidden element `name`, whose start tag
/// has just been read; nothing when it never ends.
fn skip_element<'a>(s: &'a str, name: &str) -> &'a str {
    let mut from = 0;
    while let Some(i) = s[from..].find("</") {
        let at = from + i + 2;
        let candidate = &s.as_bytes()[at..];
        if candidate.len() >= name.len()
            && candidate[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && candidate
                .get(name.len())
                .is_none_or(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')
        {
            return after_tag(&s[at + name.len()..]);
        }
        from = at;
    }
    ""
}

/// Lays text out in lines: collapses whitespace and ends lines at blocks.
#[derive(Default)]
struct Layout {
    out: String,
    space: bool,
    line_break: bool,
    preformatted: bool,
}

impl Layout {
    fn push_text(&mut self, raw: &str) {
        if raw.is_empty() {
            return;
        }
        let decoded = html_escape::decode_html_entities(raw);
        for c in decoded.chars() {
            if self.preformatted && matches!(c, '\n' | '\r') {
                if c == '\n' {
                    self.line_break();
                }
            } else if c.is_whitespace() {
                self.space = true;
            } else {
                if self.line_break {
                    if !self.out.is_empty() {
                        self.out.push('\n');
                    }
                    self.line_break = false;
                } else if self.space && !self.out.is_empty() {
                    self.out.push(' ');
                }
                self.space = false;
                self.out.push(c);
            }
        }
    }

    fn line_break(&mut self) {
        self.line_break = true;
        self.space = false;
    }

    fn finish(mut self) -> String {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::visible_text;

    #[test]
    fn blocks_are_lines_and_inline_markup_joins() {
        let page = "<!DOCTYPE html><html><head><title>Readout | Ministry</title>\
            <meta charset=\"utf-8\"><style>p { color: red }</style></head>\
            <body><nav><ul><li><a href=\"/\">Home</a></li><li>News</li></ul></nav>\
            <h1>Joint  Statement</h1>\n<p>The ministers <b>condemned</b> the\n   attack.\
            They agreed to meet again.</p><p>Line one<br>line two</p></body></html>";
        assert_eq!(
            visible_text(page),
            "Home\nNews\nJoint Statement\nThe ministers condemned the attack.\
             They agreed to meet again.\nLine one\nline two\n"
        );
    }

    #[test]
    fn hidden_content_comments_and_declarations_are_dropped() {
        let page = "<?xml version=\"1.0\"?><!-- a <p>comment</p> -->\
            <p>Shown.</p><script>if (a < b && c > d) { document.write('</p>x') }</script>\
            <SCRIPT type=\"text/javascript\">var x = \"</scripts>\";</SCRIPT >\
            <noscript>Enable JavaScript.</noscript><svg><text>logo</text></svg>\
            <template><p>later</p></template><p>Also shown.</p><![CDATA[ raw ]]>";
        assert_eq!(visible_text(page), "Shown.\nAlso shown.\n");
    }

    #[test]
    fn character_references_are_decoded() {
        let page = "<p>Japan&rsquo;s &ldquo;firm&rdquo; stance &amp; the U.S.&nbsp;view \
            &#8212; &#x2019; &eacute; &unknownentity; AT&T</p>";
        assert_eq!(
            visible_text(page),
            "Japan\u{2019}s \u{201c}firm\u{201d} stance & the U.S. view \u{2014} \u{2019} \u{e9} \
             &unknownentity; AT&T\n"
        );
    }

    #[test]
    fn quoted_attributes_may_hold_angle_brackets() {
        let page = "<p title=\"a > b\" data-x='<p>'>Text</p><img alt=\"x\"/>after";
        assert_eq!(visible_text(page), "Text\nafter\n");
    }

    #[test]
    fn stray_angle_brackets_are_text_and_broken_markup_ends_quietly() {
        assert_eq!(visible_text("<p>a < b and 3<4</p>"), "a < b and 3<4\n");
        assert_eq!(visible_text("<p>Kept.</p><div class=\"x"), "Kept.\n");
        assert_eq!(
            visible_text("<p>Kept.</p><!-- never closed <p>x</p>"),
            "Kept.\n"
        );
        assert_eq!(visible_text("<p>Kept.</p><script>never closed"), "Kept.\n");
        assert_eq!(
            visible_text("plain text, no markup"),
            "plain text, no markup\n"
        );
        assert_eq!(visible_text(""), "");
        assert_eq!(visible_text("<"), "<\n");
        assert_eq!(visible_text("</"), "</\n");
    }

    #[test]
    fn pages_are_told_from_text_by_their_start() {
        use super::looks_like_html;
        assert!(looks_like_html("<!DOCTYPE html>\n<html>"));
        assert!(looks_like_html(
            "\u{feff}\n  <!doctype HTML PUBLIC \"-//W3C//DTD\">"
        ));
        assert!(looks_like_html("<HTML lang=\"en\"><body>"));
        assert!(looks_like_html(
            "<?xml version=\"1.0\"?>\n<!-- saved -->\n<html>"
        ));
        assert!(!looks_like_html("The <b>ministers</b> met."));
        assert!(!looks_like_html("<htmlish> is not a tag we know"));
        assert!(!looks_like_html(""));
        assert!(!looks_like_html("<!-- never closed"));
    }

    #[test]
    fn latin_1_declarations_are_recognised() {
        use super::{declared_windows_1252, decode_windows_1252};
        assert!(declared_windows_1252(
            b"<html><head><meta charset=\"ISO-8859-1\">"
        ));
        assert!(declared_windows_1252(
            b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\">"
        ));
        assert!(declared_windows_1252(
            b"<?xml version='1.0' encoding='x'?><meta charset = 'latin1'>"
        ));
        assert!(!declared_windows_1252(b"<meta charset=\"utf-8\">"));
        assert!(!declared_windows_1252(b"<p>The charset is latin1.</p>"));
        assert!(!declared_windows_1252(b"<meta charset=\"iso-8859-15\">"));
        assert!(!declared_windows_1252(b""));
        assert_eq!(
            decode_windows_1252(b"Caf\xe9 \x93quoted\x94 \x96 \x80 \x81"),
            "Caf\u{e9} \u{201c}quoted\u{201d} \u{2013} \u{20ac} \u{81}"
        );
    }

    #[test]
    fn hidden_elements_are_dropped_with_what_they_hold() {
        let page = "<div hidden><div>Menu</div><p>Cookie notice</p></div><p>Shown.</p>\
            <div style=\"color: red; DISPLAY : none !important\">Mobile <div>menu</div></div>\
            <div style=\"display:block\">Also shown.</div><input type=hidden value=x>\
            <img hidden src=\"a.png\"><p data-hidden=\"1\" title='hidden'>Still shown.</p>\
            <div hidden=\"until-found\">Found later.</div>\
            <section hidden><script>var s = '</section>';</script>Secret</section>Last.";
        assert_eq!(
            visible_text(page),
            "Shown.\nAlso shown.\nStill shown.\nFound later.\nLast.\n"
        );
        // An element hidden but never closed hides the rest, as in a browser.
        assert_eq!(visible_text("<p>Kept.</p><div hidden><p>gone"), "Kept.\n");
    }

    #[test]
    fn preformatted_text_keeps_its_lines() {
        let page = "<pre>1. First point.\n2. Second  point.</pre><p>After.</p>";
        assert_eq!(
            visible_text(page),
            "1. First point.\n2. Second point.\nAfter.\n"
        );
    }

    #[test]
    fn head_content_other_than_hidden_elements_is_not_text() {
        // <head> itself only holds metadata; its title is dropped as hidden.
        let page = "<html><head><title>T</title><meta name=\"x\" content=\"y\"></head><body>B</body></html>";
        assert_eq!(visible_text(page), "B\n");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// Any mix of markup fragments and text lays out without panicking,
        /// as lines with no blank line, no line-edge spaces and no tag text.
        #[test]
        fn any_markup_lays_out_as_clean_lines(
            pieces in proptest::collection::vec(proptest::prop_oneof![
                proptest::prelude::Just("<p>"), proptest::prelude::Just("</p>"),
                proptest::prelude::Just("<br/>"), proptest::prelude::Just("<script>"),
                proptest::prelude::Just("</script>"), proptest::prelude::Just("<!--"),
                proptest::prelude::Just("-->"), proptest::prelude::Just("<a href=\""),
                proptest::prelude::Just("\">"), proptest::prelude::Just("&amp;"),
                proptest::prelude::Just("&#x"), proptest::prelude::Just("<"),
                proptest::prelude::Just(">"), proptest::prelude::Just(" \n\t"),
                proptest::prelude::Just("é€"), proptest::prelude::Just("<pre>"),
                proptest::prelude::Just("word"), proptest::prelude::Just("</"),
            ], 0..40),
            tail in "\\PC{0,20}",
        ) {
            let page = pieces.concat() + &tail;
            let text = visible_text(&page);
            if !text.is_empty() {
                proptest::prop_assert!(text.ends_with('\n'));
                for line in text.lines() {
                    proptest::prop_assert!(!line.is_empty(), "{text:?}");
                    proptest::prop_assert_eq!(line.trim_matches(' '), line);
                }
            }
            proptest::prop_assert!(!text.contains("<script>") && !text.contains("<p>"), "{:?}", text);
        }
    }
}
