//! The one template filler: `{name}` placeholders replaced by text. A rule's explanation
//! (`explain = "{failures} failures from {ip}"`) and a runbook question's evidence (`says =
//! "{n} sign-ins from {countries}"`) are both filled here; each caller says how its values
//! read (`text`). A placeholder without a value, or a lone brace, is left as written.

/// `template` with each `{name}` for which `text` has a value replaced by it.
pub fn fill(template: &str, text: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| Some((close, text(&after[..close])?))) {
            Some((close, value)) => {
                out.push_str(&value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
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
