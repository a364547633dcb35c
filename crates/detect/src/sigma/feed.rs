//! Threat feeds in JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>), as seed 002 delivers
//! its detections: each item an advisory, with Sigma rules embedded in its content (a YAML
//! block in `content_text`, or a `<pre>`/`<code>` block in `content_html`) or linked as
//! attachments.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Feed {
    pub version: String,
    pub title: String,
    #[serde(default)]
    pub items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
pub struct Item {
    pub id: serde_json::Value,
    pub url: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub content_html: Option<String>,
    pub content_text: Option<String>,
    pub date_published: Option<String>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Deserialize)]
pub struct Attachment {
    pub url: String,
    pub mime_type: Option<String>,
}

/// Parses a feed; the error says where in the text it is wrong (line and column).
pub fn parse(text: &str) -> Result<Feed, String> {
    let feed: Feed = serde_json::from_str(text).map_err(|e| format!("not a JSON Feed: {e}"))?;
    if !feed.version.starts_with("https://jsonfeed.org/version/1") {
        return Err(format!("version {:?} is not JSON Feed 1.x", feed.version));
    }
    Ok(feed)
}

impl Item {
    /// The Sigma rules written in the item's content.
    pub fn embedded_rules(&self) -> Vec<String> {
        let mut blocks = Vec::new();
        if let Some(text) = &self.content_text {
            blocks.extend(fenced_blocks(text));
        }
        if let Some(html) = &self.content_html {
            blocks.extend(html_code_blocks(html));
        }
        let mut seen = std::collections::BTreeSet::new();
        blocks.retain(|b| looks_like_sigma(b) && seen.insert(b.clone()));
        blocks
    }

    /// The attachments that are Sigma rules (YAML by type or name).
    pub fn linked_rules(&self) -> impl Iterator<Item = &Attachment> {
        self.attachments.iter().filter(|a| {
            let path = a.url.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
            a.mime_type.as_deref().is_some_and(|m| m.contains("yaml"))
                || path.ends_with(".yml")
                || path.ends_with(".yaml")
        })
    }
}

fn looks_like_sigma(text: &str) -> bool {
    let has = |key: &str| text.lines().any(|l| l.starts_with(key));
    has("title:") && (has("detection:") || has("correlation:"))
}

/// The contents of the fenced blocks of a Markdown text.
fn fenced_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(String::new()),
            }
        } else if let Some(block) = &mut current {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks
}

/// The texts of the `<pre>` and `<code>` elements of an HTML text, tags removed and entities
/// decoded.
fn html_code_blocks(html: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    for tag in ["pre", "code"] {
        let mut rest = html;
        while let Some(start) = rest.find(&format!("<{tag}")) {
            let after = &rest[start..];
            let Some(open_end) = after.find('>') else { break };
            let body = &after[open_end + 1..];
            let Some(close) = body.find(&format!("</{tag}>")) else { break };
            blocks.push(decode_entities(&strip_tags(&body[..close])));
            rest = &body[close..];
        }
    }
    blocks
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Decodes the character references of HTML text (`&lt;`, `&#39;`, `&#x27;` ...).
pub fn decode_entities(text: &str) -> String {
    sleuth_render::template::substitute(text, '&', ';', |name| {
        if name.len() > 10 {
            return None;
        }
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => ' ',
            "ldquo" | "rdquo" => '"',
            "lsquo" | "rsquo" => '\'',
            _ => {
                let number = name.strip_prefix('#')?;
                let code = match number.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => number.parse().ok()?,
                };
                char::from_u32(code)?
            }
        };
        Some(c.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_found_in_html_and_markdown_content() {
        let html = "<p>Deploy:</p><pre><code class=\"language-yaml\">title: Lockouts\nlogsource:\n  product: azure\ndetection:\n  s:\n    ResultType: 50053\n  condition: s &amp;&amp; x &#39;y&#x27; &lt;\n</code></pre><p>not <code>a rule</code></p>";
        let item: Item = serde_json::from_value(serde_json::json!({"id": "1", "content_html": html,
            "content_text": "Text\n```yaml\ntitle: Other\ndetection:\n  condition: s\n```\n"}))
        .unwrap();
        let rules = item.embedded_rules();
        assert_eq!(rules.len(), 2, "{rules:?}");
        assert!(rules[0].starts_with("title: Other"));
        assert!(rules[1].contains("condition: s && x 'y' <"), "{}", rules[1]);
    }

    #[test]
    fn a_feed_that_is_not_json_feed_says_so() {
        assert!(parse("{\"version\": \"2\", \"title\": \"x\"}").unwrap_err().contains("not JSON Feed 1.x"));
        assert!(parse("[]").unwrap_err().starts_with("not a JSON Feed"));
        assert_eq!(decode_entities("a &amp b &#xZZ; &lt;"), "a &amp b &#xZZ; <");
    }
}
