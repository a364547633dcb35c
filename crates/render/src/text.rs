//! Log text made safe for people, one function per output.
//!
//! What is neutralised, and why:
//! - **Control characters** (C0, DEL, C1): ESC starts terminal sequences (colours, cursor
//!   moves, OSC 8 hyperlinks, window titles), BEL rings, backspace and carriage return
//!   overwrite what was shown. They are shown as Rust escapes (`\u{1b}`, `\r`).
//! - **Bidirectional controls** (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069)
//!   reorder what is displayed, so `gnp.exe` with an override reads `exe.png`
//!   ("Trojan Source", CVE-2021-42574). Shown as escapes too.
//! - **Spreadsheet formulas**: a CSV cell starting with `=`, `+`, `-`, `@` (after any
//!   spaces) runs as a formula when opened; a leading apostrophe makes it text (OWASP, CSV
//!   injection).
//! - **Markup**: HTML's five special characters become entities; Markdown's markup characters
//!   are escaped and line breaks become spaces, so a value cannot open a link, an image, raw
//!   HTML or a table cell.
//!
//! Line feeds are kept where the output has a place for them (HTML text, which the page shows
//! in `<pre>` for raw records); everywhere else they are escaped too.

use std::fmt::Write;

/// Characters that change how text is displayed rather than what it says.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// For a terminal, a plain-text line or a log line: hidden characters shown as escapes.
pub fn visible(s: &str) -> String {
    if !s.chars().any(is_hidden) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hidden(c) { push_escaped(&mut out, c) } else { out.push(c) }
    }
    out
}

/// For a CSV cell that holds text: hidden characters shown as escapes, and a formula made text.
pub fn csv_cell(s: &str) -> String {
    let shown = visible(s);
    match shown.trim_start_matches(' ').chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{shown}"),
        _ => shown,
    }
}

/// The entity for a character HTML markup is made of (`<`, `>`, `&`); false for any other.
fn push_entity(out: &mut String, c: char) -> bool {
    let entity = match c {
        '<' => "&lt;",
        '>' => "&gt;",
        '&' => "&amp;",
        _ => return false,
    };
    out.push_str(entity);
    true
}

/// For HTML text or a double-quoted attribute value: entities for markup, line feeds kept,
/// other hidden characters shown as escapes.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if push_entity(&mut out, c) {
            continue;
        }
        match c {
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push('\n'),
            c if is_hidden(c) => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// For Markdown that may be turned into HTML: markup characters become entities or are
/// backslash-escaped, line breaks and tabs become spaces, other hidden characters are shown as
/// (escaped) escapes.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if push_entity(&mut out, c) {
            continue;
        }
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if is_hidden(c) => {
                let mut escape = String::new();
                push_escaped(&mut escape, c);
                out.push_str(&escape.replace('\\', "\\\\"));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a hostile log carries: ANSI colour, an OSC 8 hyperlink, BEL, backspace, a
    /// right-to-left override that makes `gnp.exe` read `exe.png`, and an isolate.
    const HOSTILE: &str = "a\u{1b}[31mred\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{7}\u{8}\u{202e}gnp.exe\u{2066}z\u{85}";

    #[test]
    fn nothing_hidden_survives_any_output() {
        for out in [visible(HOSTILE), csv_cell(HOSTILE), html(HOSTILE), markdown(HOSTILE)] {
            assert!(!out.chars().any(is_hidden), "{out:?}");
            assert!(out.contains("gnp.exe"), "{out:?}");
        }
        assert_eq!(visible("x\ry\u{202e}"), "x\\ry\\u{202e}");
        assert_eq!(visible("a\u{1b}[31m"), "a\\u{1b}[31m");
    }

    #[test]
    fn plain_text_is_untouched() {
        for s in ["Mozilla/5.0 (Windows NT 10.0)", "Jöns Ångström", "東京", "node-fetch/1.0", "שלום"] {
            assert_eq!(visible(s), s);
            assert_eq!(csv_cell(s), s);
            assert_eq!(html(s), s);
        }
    }

    #[test]
    fn formulas_become_text() {
        assert_eq!(csv_cell("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("  =1+1"), "'  =1+1");
        assert_eq!(csv_cell("\t=1+1"), "\\t=1+1");
    }

    #[test]
    fn markup_cannot_escape_its_place() {
        assert_eq!(html("<script>\"'&"), "&lt;script&gt;&quot;&#39;&amp;");
        assert_eq!(html("a\nb"), "a\nb");
        assert_eq!(markdown("[x](javascript:y) | *b*\n<i>"), "\\[x\\](javascript:y) \\| \\*b\\* &lt;i&gt;");
        assert_eq!(markdown("a\u{202e}b"), "a\\\\u{202e}b");
    }
}
