//! Tokens of the Kusto Query Language, each with the position it starts at.
//!
//! Literals follow the KQL reference: strings in single or double quotes with `\` escapes,
//! verbatim strings `@"..."` (a doubled quote is one quote), obfuscated strings `h"..."`,
//! timespans `24h`, `1.5d`, `30m`, `10s`, `100ms`, `10microsecond`, `1tick`, and `//` comments.
//! <https://learn.microsoft.com/en-us/kusto/query/scalar-data-types/string>,
//! <https://learn.microsoft.com/en-us/kusto/query/scalar-data-types/timespan>

use crate::KqlError;

/// A place in the query text: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name: letters, digits, `_`; `$left` and `$right` keep their `$`.
    Ident(String),
    /// A name in brackets, `['Column name']`.
    Quoted(String),
    Str(String),
    Long(i64),
    Real(f64),
    /// A timespan literal, in nanoseconds.
    Span(i64),
    /// Punctuation and operators: `|`, `(`, `==`, `=~`, `!in~`, `..` ...
    Sym(&'static str),
    End,
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "`{s}`"),
            Tok::Quoted(s) => write!(f, "`['{s}']`"),
            Tok::Str(s) => write!(f, "string \"{}\"", s.chars().take(40).collect::<String>()),
            Tok::Long(n) => write!(f, "number {n}"),
            Tok::Real(n) => write!(f, "number {n}"),
            Tok::Span(_) => write!(f, "timespan"),
            Tok::Sym(s) => write!(f, "`{s}`"),
            Tok::End => write!(f, "the end of the query"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

/// Longest first, so that `!=` is not read as `!` and `=`.
const SYMBOLS: &[&str] = &[
    "!~", "!=", "==", "=~", "<>", "<=", ">=", "..", "=>", "|", "(", ")", "[", "]", "{", "}", ",", ";", ".", "=", "<",
    ">", "+", "-", "*", "/", "%", ":", "!", "?", "~",
];

/// Nanoseconds in one unit of a timespan suffix.
fn span_unit(unit: &str) -> Option<i64> {
    Some(match unit {
        "d" | "day" | "days" => 86_400_000_000_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000_000_000,
        "m" | "min" | "minute" | "minutes" => 60_000_000_000,
        "s" | "sec" | "second" | "seconds" => 1_000_000_000,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "microsecond" | "microseconds" => 1_000,
        "tick" | "ticks" => 100,
        _ => return None,
    })
}

pub fn lex(text: &str) -> Result<Vec<Token>, KqlError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line, mut line_start) = (0usize, 1u32, 0usize);
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { line, column: (i - line_start + 1) as u32 };
        if c == '\n' {
            i += 1;
            line += 1;
            line_start = i;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let at = |k: usize| chars.get(k).copied();
        // Verbatim and obfuscated strings: @"..", h"..", H@"..".
        let (prefix, verbatim) = match (c, at(i + 1), at(i + 2)) {
            ('@', Some('"' | '\''), _) => (1, true),
            ('h' | 'H', Some('"' | '\''), _) => (1, false),
            ('h' | 'H', Some('@'), Some('"' | '\'')) => (2, true),
            _ => (0, false),
        };
        if prefix > 0 || c == '"' || c == '\'' {
            i += prefix;
            let quote = chars[i];
            i += 1;
            let mut value = String::new();
            loop {
                match at(i) {
                    None => return Err(KqlError::syntax(pos, "this string is not closed")),
                    Some('\n') if !verbatim => {
                        return Err(KqlError::syntax(pos, "this string is not closed on its line"));
                    }
                    Some(q) if q == quote => {
                        if verbatim && at(i + 1) == Some(quote) {
                            value.push(quote);
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    Some('\\') if !verbatim => {
                        let escaped = at(i + 1).ok_or_else(|| KqlError::syntax(pos, "this string is not closed"))?;
                        value.push(match escaped {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            '0' => '\0',
                            other => other,
                        });
                        i += 2;
                    }
                    Some(ch) => {
                        if ch == '\n' {
                            line += 1;
                            line_start = i + 1;
                        }
                        value.push(ch);
                        i += 1;
                    }
                }
            }
            tokens.push(Token { tok: Tok::Str(value), pos });
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while at(i).is_some_and(|d| d.is_ascii_digit()) {
                i += 1;
            }
            let mut real = false;
            if at(i) == Some('.') && at(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                real = true;
                i += 1;
                while at(i).is_some_and(|d| d.is_ascii_digit()) {
                    i += 1;
                }
            }
            if matches!(at(i), Some('e' | 'E')) && at(i + 1).is_some_and(|d| d.is_ascii_digit() || d == '-' || d == '+')
            {
                real = true;
                i += 2;
                while at(i).is_some_and(|d| d.is_ascii_digit()) {
                    i += 1;
                }
            }
            let number: String = chars[start..i].iter().collect();
            // A timespan suffix directly after the number.
            let suffix_start = i;
            while at(i).is_some_and(|d| d.is_ascii_alphabetic()) {
                i += 1;
            }
            let suffix: String = chars[suffix_start..i].iter().collect();
            let tok = if suffix.is_empty() {
                if real {
                    Tok::Real(number.parse().map_err(|_| KqlError::syntax(pos, "this number cannot be read"))?)
                } else {
                    match number.parse() {
                        Ok(n) => Tok::Long(n),
                        Err(_) => {
                            Tok::Real(number.parse().map_err(|_| KqlError::syntax(pos, "this number cannot be read"))?)
                        }
                    }
                }
            } else if let Some(unit) = span_unit(&suffix) {
                let value: f64 = number.parse().map_err(|_| KqlError::syntax(pos, "this timespan cannot be read"))?;
                Tok::Span((value * unit as f64).round() as i64)
            } else {
                return Err(KqlError::syntax(
                    pos,
                    format!(
                        "`{number}{suffix}` is not a number or a timespan (units: d, h, m, s, ms, microsecond, tick)"
                    ),
                ));
            };
            tokens.push(Token { tok, pos });
            continue;
        }
        if c.is_alphabetic() || c == '_' || (c == '$' && at(i + 1).is_some_and(|d| d.is_alphabetic())) {
            let start = i;
            i += 1;
            while at(i).is_some_and(|d| d.is_alphanumeric() || d == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // `datetime(2026-02-22T14:30:00Z)` and `timespan(1.02:03:04)` hold text that is
            // not made of tokens: it is passed on whole as a string.
            let mut after = i;
            while at(after).is_some_and(|d| d == ' ' || d == '\t') {
                after += 1;
            }
            if matches!(word.as_str(), "datetime" | "timespan" | "guid") && at(after) == Some('(') {
                let open = after;
                let mut close = open + 1;
                while at(close).is_some_and(|d| d != ')' && d != '\n') {
                    close += 1;
                }
                if at(close) != Some(')') {
                    return Err(KqlError::syntax(pos, format!("`{word}(` is not closed on its line")));
                }
                let raw: String = chars[open + 1..close].iter().collect();
                let raw = raw.trim().trim_matches(|q| q == '"' || q == '\'').to_string();
                let column = |k: usize| Pos { line, column: (k - line_start + 1) as u32 };
                tokens.push(Token { tok: Tok::Ident(word), pos });
                tokens.push(Token { tok: Tok::Sym("("), pos: column(open) });
                tokens.push(Token { tok: Tok::Str(raw), pos: column(open + 1) });
                tokens.push(Token { tok: Tok::Sym(")"), pos: column(close) });
                i = close + 1;
                continue;
            }
            tokens.push(Token { tok: Tok::Ident(word), pos });
            continue;
        }
        if c == '[' && matches!(at(i + 1), Some('\'' | '"')) {
            let quote = chars[i + 1];
            let start = i + 2;
            let mut end = start;
            while at(end).is_some_and(|d| d != quote && d != '\n') {
                end += 1;
            }
            // `['name']` is one name; `["a", "b"]` is a list.
            if at(end) == Some(quote) && at(end + 1) == Some(']') {
                tokens.push(Token { tok: Tok::Quoted(chars[start..end].iter().collect()), pos });
                i = end + 2;
                continue;
            }
        }
        let rest: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        match SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
            Some(sym) => {
                tokens.push(Token { tok: Tok::Sym(sym), pos });
                i += sym.len();
            }
            None => return Err(KqlError::syntax(pos, format!("unexpected character `{}`", c.escape_debug()))),
        }
    }
    let pos = Pos { line, column: (chars.len() - line_start + 1) as u32 };
    tokens.push(Token { tok: Tok::End, pos });
    Ok(tokens)
}
