//! The one template filler: `{name}` placeholders replaced by text. A rule's explanation
//! (`explain = "{failures} failures from {ip}"`) and a runbook question's evidence (`says =
//! "{n} sign-ins from {countries}"`) are both filled here; each caller says how its values
//! read (`text`). A placeholder without a value, or a lone brace, is left as written.

/// `template` with each `{name}` for which `text` has a value replaced by it.
pub fn fill(template: &str, text: impl Fn(&str) -> Option<String>) -> String {
    substitute(template, '{', '}', text)
}

/// `text` with each `open name close` for which `value` has a replacement replaced by it (up
/// to the first `close` after `open`); the rest is left as written. [`fill`] is `{`..`}`;
/// HTML character references (`&`..`;`) are another use.
pub fn substitute(text: &str, open: char, close: char, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(open) {
        out.push_str(&rest[..at]);
        let after = &rest[at + open.len_utf8()..];
        match after.find(close).and_then(|end| Some((end, value(&after[..end])?))) {
            Some((end, replacement)) => {
                out.push_str(&replacement);
                rest = &after[end + close.len_utf8()..];
            }
            None => {
                out.push(open);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_are_filled_and_the_rest_left_as_written() {
        let text = |name: &str| (name == "n").then(|| "3".to_string());
        assert_eq!(fill("{n} failures, {other} and {n}", text), "3 failures, {other} and 3");
        assert_eq!(fill("a { b } {", text), "a { b } {");
        assert_eq!(fill("{{n}}", text), "{3}");
    }
}
