//! A recursive-descent parser for the query text: statements separated by `;`, tabular
//! expressions piped with `|`, scalar expressions by precedence (`or`, `and`, comparisons and
//! string operators, `+ -`, `* / %`, unary minus, member access and calls).
//! <https://learn.microsoft.com/en-us/kusto/query/tabular-expression-statements>

use crate::KqlError;
use crate::ast::*;
use crate::lex::{Pos, Tok, Token, lex};

/// Parses a whole query: `let` and `set` statements, then one tabular expression.
pub fn parse(text: &str) -> Result<Vec<Statement>, KqlError> {
    let tokens = lex(text)?;
    let mut parser = Parser { tokens, at: 0, depth: 0 };
    let statements = parser.statements(false)?;
    if !matches!(parser.peek(), Tok::End) {
        return Err(parser.expected("`;` or the end of the query"));
    }
    Ok(statements)
}

/// How deeply expressions may nest before the parser refuses: a hostile query cannot
/// overflow the stack.
const MAX_DEPTH: u32 = 64;

/// String and list operators that take the place of a comparison, as written.
const WORD_OPERATORS: &[&str] = &[
    "has",
    "has_cs",
    "hasprefix",
    "hasprefix_cs",
    "hassuffix",
    "hassuffix_cs",
    "contains",
    "contains_cs",
    "startswith",
    "startswith_cs",
    "endswith",
    "endswith_cs",
    "like",
];
const LIST_OPERATORS: &[&str] = &["in", "in~", "has_any", "has_all"];

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: u32,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.at].tok
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.tokens[(self.at + k).min(self.tokens.len() - 1)].tok
    }

    fn pos(&self) -> Pos {
        self.tokens[self.at].pos
    }

    fn next(&mut self) -> Token {
        let token = self.tokens[self.at].clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn expected(&self, what: &str) -> KqlError {
        KqlError::syntax(self.pos(), format!("expected {what}, found {}", self.peek()))
    }

    fn is_sym(&self, sym: &str) -> bool {
        matches!(self.peek(), Tok::Sym(s) if *s == sym)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == word)
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        if self.is_sym(sym) {
            self.next();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.is_word(word) {
            self.next();
            true
        } else {
            false
        }
    }

    fn sym(&mut self, sym: &str) -> Result<(), KqlError> {
        if self.eat_sym(sym) { Ok(()) } else { Err(self.expected(&format!("`{sym}`"))) }
    }

    fn word(&mut self, word: &str) -> Result<(), KqlError> {
        if self.eat_word(word) { Ok(()) } else { Err(self.expected(&format!("`{word}`"))) }
    }

    fn name(&mut self) -> Result<String, KqlError> {
        match self.peek().clone() {
            Tok::Ident(name) | Tok::Quoted(name) => {
                self.next();
                Ok(name)
            }
            _ => Err(self.expected("a name")),
        }
    }

    fn deeper(&mut self) -> Result<(), KqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(KqlError::syntax(self.pos(), format!("the query nests more than {MAX_DEPTH} levels deep")));
        }
        Ok(())
    }

    /// Statements up to the end (or, in a function body, up to `}`).
    fn statements(&mut self, in_body: bool) -> Result<Vec<Statement>, KqlError> {
        let mut statements = Vec::new();
        loop {
            while self.eat_sym(";") {}
            if matches!(self.peek(), Tok::End) || (in_body && self.is_sym("}")) {
                break;
            }
            let pos = self.pos();
            if self.eat_word("let") {
                let name = self.name()?;
                self.sym("=")?;
                let value = self.let_value()?;
                statements.push(Statement::Let { name, value, pos });
            } else if self.eat_word("set") {
                while !matches!(self.peek(), Tok::End) && !self.is_sym(";") {
                    self.next();
                }
                statements.push(Statement::Set);
            } else if in_body && !self.starts_tabular() {
                statements.push(Statement::Expr(self.expr()?));
            } else {
                statements.push(Statement::Query(self.tabular()?));
            }
            if !self.eat_sym(";") {
                break;
            }
        }
        Ok(statements)
    }

    fn let_value(&mut self) -> Result<LetValue, KqlError> {
        self.eat_word("view");
        let pos = self.pos();
        if self.is_sym("(") && self.is_function_header() {
            self.next();
            let mut params = Vec::new();
            while !self.eat_sym(")") {
                let name = self.name()?;
                self.sym(":")?;
                let tabular = if self.eat_sym("(") {
                    let mut depth = 1;
                    while depth > 0 {
                        match self.next().tok {
                            Tok::Sym("(") => depth += 1,
                            Tok::Sym(")") => depth -= 1,
                            Tok::End => return Err(self.expected("`)`")),
                            _ => {}
                        }
                    }
                    true
                } else {
                    let ty = self.name()?;
                    Type::parse(&ty).ok_or_else(|| KqlError::syntax(pos, format!("`{ty}` is not a type")))?;
                    false
                };
                let default = if self.eat_sym("=") { Some(self.expr()?) } else { None };
                params.push(Param { name, tabular, default });
                if !self.eat_sym(",") {
                    self.sym(")")?;
                    break;
                }
            }
            self.sym("{")?;
            let body = self.statements(true)?;
            self.sym("}")?;
            return Ok(LetValue::Function { params, body });
        }
        if self.starts_tabular() {
            return Ok(LetValue::Tabular(Box::new(self.tabular()?)));
        }
        Ok(LetValue::Scalar(self.expr()?))
    }

    /// `(` followed by `)` then `{`, or by `name :`: a function's parameters.
    fn is_function_header(&self) -> bool {
        matches!((self.peek_at(1), self.peek_at(2)), (Tok::Sym(")"), Tok::Sym("{")) | (Tok::Ident(_), Tok::Sym(":")))
    }

    /// Whether the expression ahead (up to `;`) is tabular: it pipes, or starts with a tabular
    /// source keyword.
    fn starts_tabular(&self) -> bool {
        let mut first = self.at;
        while matches!(self.tokens[first].tok, Tok::Sym("(")) {
            first += 1;
        }
        if let Tok::Ident(word) = &self.tokens[first].tok
            && matches!(word.as_str(), "datatable" | "union" | "materialize" | "range" | "print" | "externaldata")
            && !(word == "range" && matches!(self.tokens[first + 1].tok, Tok::Sym("(")))
        {
            return true;
        }
        let mut depth = 0i32;
        for token in &self.tokens[self.at..] {
            match token.tok {
                Tok::Sym("(" | "[" | "{") => depth += 1,
                Tok::Sym(")" | "]" | "}") => {
                    depth -= 1;
                    if depth < 0 {
                        return false;
                    }
                }
                Tok::Sym("|") if depth == 0 => return true,
                Tok::Sym(";") | Tok::End if depth == 0 => return false,
                Tok::End => return false,
                _ => {}
            }
        }
        false
    }

    /// A tabular expression: a source, then `| operator` any number of times.
    fn tabular(&mut self) -> Result<Tabular, KqlError> {
        self.deeper()?;
        let source = self.source()?;
        let mut ops = Vec::new();
        while self.eat_sym("|") {
            let pos = self.pos();
            let op = self.operator()?;
            ops.push((op, pos));
        }
        self.depth -= 1;
        Ok(Tabular { source, ops })
    }

    fn source(&mut self) -> Result<Source, KqlError> {
        let pos = self.pos();
        if self.eat_sym("(") {
            let inner = self.tabular()?;
            self.sym(")")?;
            return Ok(Source::Nested(Box::new(inner)));
        }
        let name = self.name()?;
        match name.as_str() {
            "datatable" if self.is_sym("(") => {
                self.next();
                let mut columns = Vec::new();
                while !self.eat_sym(")") {
                    let column = self.name()?;
                    self.sym(":")?;
                    let ty_pos = self.pos();
                    let ty = self.name()?;
                    let ty =
                        Type::parse(&ty).ok_or_else(|| KqlError::syntax(ty_pos, format!("`{ty}` is not a type")))?;
                    columns.push((column, ty));
                    if !self.eat_sym(",") {
                        self.sym(")")?;
                        break;
                    }
                }
                self.sym("[")?;
                let mut values = Vec::new();
                while !self.eat_sym("]") {
                    values.push(self.expr()?);
                    if !self.eat_sym(",") {
                        self.sym("]")?;
                        break;
                    }
                }
                Ok(Source::Datatable { columns, values, pos })
            }
            "union" => {
                let (options, tables) = self.union_body()?;
                Ok(Source::Union { options, tables })
            }
            "print" => Ok(Source::Print(self.named_list()?)),
            "range" => {
                let column = self.name()?;
                self.word("from")?;
                let from = self.expr()?;
                self.word("to")?;
                let to = self.expr()?;
                self.word("step")?;
                let step = self.expr()?;
                Ok(Source::Range { column, from: Box::new(from), to: Box::new(to), step: Box::new(step) })
            }
            "externaldata" if self.is_sym("(") => {
                // Parsed so that the error can say why it does not run.
                let mut depth = 0;
                loop {
                    match self.next().tok {
                        Tok::Sym("(" | "[") => depth += 1,
                        Tok::Sym(")" | "]") => {
                            depth -= 1;
                            if depth == 0 && !self.is_sym("[") && !self.is_word("with") {
                                break;
                            }
                        }
                        Tok::Ident(w) if w == "with" && depth == 0 => {}
                        Tok::End => return Err(self.expected("`)`")),
                        _ => {}
                    }
                }
                Ok(Source::External { pos })
            }
            "materialize" if self.is_sym("(") => {
                self.next();
                let inner = self.tabular()?;
                self.sym(")")?;
                Ok(Source::Materialize(Box::new(inner)))
            }
            _ => {
                let args = if self.eat_sym("(") { Some(self.args(")")?) } else { None };
                Ok(Source::Name { name, args, pos })
            }
        }
    }

    fn union_body(&mut self) -> Result<(UnionOptions, Vec<Tabular>), KqlError> {
        let mut options = UnionOptions::default();
        loop {
            if self.is_word("kind") && matches!(self.peek_at(1), Tok::Sym("=")) {
                self.next();
                self.next();
                options.outer = self.name()? == "outer";
            } else if self.is_word("withsource") && matches!(self.peek_at(1), Tok::Sym("=")) {
                self.next();
                self.next();
                options.with_source = Some(self.name()?);
            } else if self.is_word("isfuzzy") && matches!(self.peek_at(1), Tok::Sym("=")) {
                self.next();
                self.next();
                self.next();
            } else {
                break;
            }
        }
        let mut tables = Vec::new();
        loop {
            let pos = self.pos();
            let source = if self.eat_sym("(") {
                let inner = self.tabular()?;
                self.sym(")")?;
                Source::Nested(Box::new(inner))
            } else {
                let name = self.name()?;
                let args = if self.eat_sym("(") { Some(self.args(")")?) } else { None };
                Source::Name { name, args, pos }
            };
            tables.push(Tabular { source, ops: Vec::new() });
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok((options, tables))
    }

    /// An operator's name, with its dashes: `project-away`, `mv-expand`.
    fn operator_name(&mut self) -> Result<String, KqlError> {
        let mut name = self.name()?;
        while self.is_sym("-") && matches!(self.peek_at(1), Tok::Ident(_)) {
            self.next();
            name.push('-');
            name.push_str(&self.name()?);
        }
        Ok(name)
    }

    fn operator(&mut self) -> Result<Op, KqlError> {
        let pos = self.pos();
        let name = self.operator_name()?;
        Ok(match name.as_str() {
            "where" | "filter" => Op::Where(self.expr()?),
            "extend" => Op::Extend(self.named_list()?),
            "project" => Op::Project(self.named_list()?),
            "project-away" => Op::ProjectAway(self.name_list()?),
            "project-keep" => Op::ProjectKeep(self.name_list()?),
            "project-reorder" => Op::ProjectReorder(self.name_list()?),
            "project-rename" => {
                let mut pairs = Vec::new();
                loop {
                    let new = self.name()?;
                    self.sym("=")?;
                    let old = self.name()?;
                    pairs.push((new, old));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                Op::ProjectRename(pairs)
            }
            "summarize" => {
                self.hints();
                let aggregates = if self.is_word("by") { Vec::new() } else { self.named_list()? };
                let by = if self.eat_word("by") { self.named_list()? } else { Vec::new() };
                Op::Summarize { aggregates, by }
            }
            "count" => Op::Count,
            "distinct" => {
                if self.is_sym("*") {
                    let pos = self.pos();
                    self.next();
                    Op::Distinct(vec![Named { names: Vec::new(), expr: Expr::Star(pos) }])
                } else {
                    Op::Distinct(self.named_list()?)
                }
            }
            "top" => {
                let count = self.expr()?;
                self.word("by")?;
                Op::Top { count, key: self.sort_key()? }
            }
            "sort" | "order" => {
                self.word("by")?;
                let mut keys = vec![self.sort_key()?];
                while self.eat_sym(",") {
                    keys.push(self.sort_key()?);
                }
                Op::Sort(keys)
            }
            "take" | "limit" => Op::Take(self.expr()?),
            "join" | "lookup" => {
                let mut kind = if name == "join" { JoinKind::InnerUnique } else { JoinKind::LeftOuter };
                loop {
                    if self.is_word("kind") && matches!(self.peek_at(1), Tok::Sym("=")) {
                        self.next();
                        self.next();
                        let kind_pos = self.pos();
                        let word = self.name()?;
                        kind = match word.as_str() {
                            "innerunique" => JoinKind::InnerUnique,
                            "inner" => JoinKind::Inner,
                            "leftouter" => JoinKind::LeftOuter,
                            "rightouter" => JoinKind::RightOuter,
                            "fullouter" => JoinKind::FullOuter,
                            "leftsemi" => JoinKind::LeftSemi,
                            "leftanti" | "anti" | "leftantisemi" => JoinKind::LeftAnti,
                            "rightsemi" => JoinKind::RightSemi,
                            "rightanti" | "rightantisemi" => JoinKind::RightAnti,
                            other => return Err(KqlError::syntax(kind_pos, format!("`{other}` is not a join kind"))),
                        };
                    } else if !self.hint() {
                        break;
                    }
                }
                let right = if self.eat_sym("(") {
                    let inner = self.tabular()?;
                    self.sym(")")?;
                    inner
                } else {
                    let pos = self.pos();
                    let name = self.name()?;
                    let args = if self.eat_sym("(") { Some(self.args(")")?) } else { None };
                    Tabular { source: Source::Name { name, args, pos }, ops: Vec::new() }
                };
                self.word("on")?;
                let on = self.join_keys()?;
                if name == "join" { Op::Join { kind, right, on } } else { Op::Lookup { kind, right, on } }
            }
            "union" => {
                let (options, tables) = self.union_body()?;
                Op::Union { options, tables }
            }
            "mv-expand" | "mvexpand" => {
                while matches!(self.peek_at(1), Tok::Sym("="))
                    && matches!(self.peek(), Tok::Ident(w) if w == "bagexpansion" || w == "with_itemindex" || w.starts_with("kind"))
                {
                    self.next();
                    self.next();
                    self.next();
                }
                let mut columns = Vec::new();
                loop {
                    let named = self.named()?;
                    let ty = if self.eat_word("to") {
                        self.word("typeof")?;
                        self.sym("(")?;
                        let ty_pos = self.pos();
                        let ty = self.name()?;
                        self.sym(")")?;
                        Some(
                            Type::parse(&ty)
                                .ok_or_else(|| KqlError::syntax(ty_pos, format!("`{ty}` is not a type")))?,
                        )
                    } else {
                        None
                    };
                    columns.push((named, ty));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                let limit = if self.eat_word("limit") { Some(self.expr()?) } else { None };
                Op::MvExpand { columns, limit }
            }
            "parse" => {
                if self.is_word("kind") && matches!(self.peek_at(1), Tok::Sym("=")) {
                    let kind_pos = self.pos();
                    self.next();
                    self.next();
                    let kind = self.name()?;
                    if kind != "simple" {
                        return Err(KqlError::syntax(
                            kind_pos,
                            format!("parse kind={kind} is not supported (kind=simple is)"),
                        ));
                    }
                }
                let source = self.additive()?;
                self.word("with")?;
                let mut parts = Vec::new();
                while !matches!(self.peek(), Tok::End) && !self.is_sym("|") && !self.is_sym(";") && !self.is_sym(")") {
                    match self.peek().clone() {
                        Tok::Str(s) => {
                            self.next();
                            parts.push(ParsePart::Literal(s));
                        }
                        Tok::Sym("*") => {
                            self.next();
                            parts.push(ParsePart::Star);
                        }
                        Tok::Ident(_) | Tok::Quoted(_) => {
                            let column = self.name()?;
                            let ty = if self.eat_sym(":") {
                                let ty_pos = self.pos();
                                let ty = self.name()?;
                                Some(
                                    Type::parse(&ty)
                                        .ok_or_else(|| KqlError::syntax(ty_pos, format!("`{ty}` is not a type")))?,
                                )
                            } else {
                                None
                            };
                            parts.push(ParsePart::Column(column, ty));
                        }
                        _ => return Err(self.expected("a string, `*` or a column name in the parse pattern")),
                    }
                }
                Op::Parse { source, parts }
            }
            "invoke" => {
                let name = self.name()?;
                self.sym("(")?;
                Op::Invoke { name, args: self.args(")")? }
            }
            "evaluate" => {
                self.hints();
                let plugin = self.name()?;
                self.sym("(")?;
                {
                    self.args(")")?;
                    Op::Evaluate { plugin }
                }
            }
            "as" => {
                self.hints();
                Op::As(self.name()?)
            }
            "serialize" => Op::Serialize(if self.is_sym("|") || self.is_sym(";") || matches!(self.peek(), Tok::End) {
                Vec::new()
            } else {
                self.named_list()?
            }),
            "getschema" => Op::GetSchema,
            other => {
                return Err(KqlError::syntax(
                    pos,
                    format!("`{other}` is not a tabular operator Sleuth knows (docs/kql.md lists them)"),
                ));
            }
        })
    }

    /// Skips `hint.name = value` options.
    fn hints(&mut self) {
        while self.hint() {}
    }

    fn hint(&mut self) -> bool {
        if matches!(self.peek(), Tok::Ident(w) if w == "hint") && matches!(self.peek_at(1), Tok::Sym(".")) {
            self.next();
            self.next();
            self.next();
            if self.eat_sym("=") {
                self.next();
            }
            return true;
        }
        false
    }

    fn join_keys(&mut self) -> Result<Vec<JoinKey>, KqlError> {
        let mut keys = Vec::new();
        loop {
            if self.is_word("$left") || self.is_word("$right") {
                let first_side = self.name()?;
                self.sym(".")?;
                let first = self.name()?;
                self.sym("==")?;
                let second_side = self.name()?;
                self.sym(".")?;
                let second = self.name()?;
                if first_side == second_side || !matches!(second_side.as_str(), "$left" | "$right") {
                    return Err(self.expected("`$left.column == $right.column`"));
                }
                keys.push(if first_side == "$left" {
                    JoinKey::Pair(first, second)
                } else {
                    JoinKey::Pair(second, first)
                });
            } else {
                keys.push(JoinKey::Same(self.name()?));
            }
            if !self.eat_sym(",") && !self.eat_word("and") {
                break;
            }
        }
        Ok(keys)
    }

    fn sort_key(&mut self) -> Result<SortKey, KqlError> {
        let expr = self.expr()?;
        let descending = if self.eat_word("asc") {
            false
        } else {
            self.eat_word("desc");
            true
        };
        let nulls_first = if self.eat_word("nulls") {
            if self.eat_word("first") {
                Some(true)
            } else {
                self.word("last")?;
                Some(false)
            }
        } else {
            None
        };
        Ok(SortKey { expr, descending, nulls_first })
    }

    fn name_list(&mut self) -> Result<Vec<String>, KqlError> {
        let mut names = Vec::new();
        loop {
            let mut name = if self.eat_sym("*") { "*".to_string() } else { self.name()? };
            // Wildcards: `Prefix*`.
            if self.is_sym("*") {
                self.next();
                name.push('*');
            }
            names.push(name);
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(names)
    }

    fn named_list(&mut self) -> Result<Vec<Named>, KqlError> {
        let mut list = vec![self.named()?];
        while self.eat_sym(",") {
            list.push(self.named()?);
        }
        Ok(list)
    }

    /// `name = expr`, `(a, b) = expr` or `expr`.
    fn named(&mut self) -> Result<Named, KqlError> {
        if matches!(self.peek(), Tok::Ident(_) | Tok::Quoted(_)) && matches!(self.peek_at(1), Tok::Sym("=")) {
            let name = self.name()?;
            self.next();
            return Ok(Named { names: vec![name], expr: self.expr()? });
        }
        if self.is_sym("(") {
            // `(a, b, ...) = expr`
            let mut k = 1;
            let mut names = Vec::new();
            loop {
                match (self.peek_at(k), self.peek_at(k + 1)) {
                    (Tok::Ident(name) | Tok::Quoted(name), Tok::Sym(",")) => {
                        names.push(name.clone());
                        k += 2;
                    }
                    (Tok::Ident(name) | Tok::Quoted(name), Tok::Sym(")")) => {
                        names.push(name.clone());
                        k += 2;
                        break;
                    }
                    _ => {
                        names.clear();
                        break;
                    }
                }
            }
            if !names.is_empty() && matches!(self.peek_at(k), Tok::Sym("=")) {
                for _ in 0..=k {
                    self.next();
                }
                return Ok(Named { names, expr: self.expr()? });
            }
        }
        Ok(Named { names: Vec::new(), expr: self.expr()? })
    }

    fn args(&mut self, close: &str) -> Result<Vec<Expr>, KqlError> {
        let mut args = Vec::new();
        if self.eat_sym(close) {
            return Ok(args);
        }
        loop {
            args.push(self.arg()?);
            if !self.eat_sym(",") {
                self.sym(close)?;
                return Ok(args);
            }
        }
    }

    /// A call's argument: an expression, `*`, or a tabular expression.
    fn arg(&mut self) -> Result<Expr, KqlError> {
        let pos = self.pos();
        if self.is_sym("*") && matches!(self.peek_at(1), Tok::Sym(")" | ",")) {
            self.next();
            return Ok(Expr::Star(pos));
        }
        if self.pipes_before_close() {
            return Ok(Expr::Tabular(Box::new(self.tabular()?), pos));
        }
        // `name = value` arguments of plugins: the value is what counts.
        if matches!(self.peek(), Tok::Ident(_)) && matches!(self.peek_at(1), Tok::Sym("=")) {
            self.next();
            self.next();
        }
        self.expr()
    }

    /// Whether a `|` comes at this nesting level before the `)`, `,` or `]` that closes it, or
    /// what follows starts with a tabular keyword (`union`, `datatable` ...).
    fn pipes_before_close(&self) -> bool {
        if let Tok::Ident(word) = self.peek()
            && matches!(word.as_str(), "union" | "datatable" | "materialize" | "range" | "print" | "externaldata")
            && !matches!(self.peek_at(1), Tok::Sym("," | ")"))
            && !(word == "range" && matches!(self.peek_at(1), Tok::Sym("(")))
        {
            return true;
        }
        let mut depth = 0i32;
        for token in &self.tokens[self.at..] {
            match token.tok {
                Tok::Sym("(" | "[" | "{") => depth += 1,
                Tok::Sym(")" | "]" | "}") => {
                    if depth == 0 {
                        return false;
                    }
                    depth -= 1;
                }
                Tok::Sym(",") | Tok::Sym(";") if depth == 0 => return false,
                Tok::Sym("|") if depth == 0 => return true,
                Tok::End => return false,
                _ => {}
            }
        }
        false
    }

    pub fn expr(&mut self) -> Result<Expr, KqlError> {
        self.deeper()?;
        let expr = self.or();
        self.depth -= 1;
        expr
    }

    fn or(&mut self) -> Result<Expr, KqlError> {
        self.chain(Self::and, |p| p.is_word("or").then_some("or"))
    }

    fn and(&mut self) -> Result<Expr, KqlError> {
        self.chain(Self::comparison, |p| p.is_word("and").then_some("and"))
    }

    /// A left-associative chain `operand (op operand)*`; `op` names the operator the current
    /// token is, if it is one of the level's.
    fn chain(
        &mut self,
        operand: fn(&mut Self) -> Result<Expr, KqlError>,
        op: fn(&Self) -> Option<&'static str>,
    ) -> Result<Expr, KqlError> {
        let mut left = operand(self)?;
        while let Some(op) = op(self) {
            let pos = self.pos();
            self.next();
            let right = operand(self)?;
            left = Expr::Binary { op: op.into(), left: Box::new(left), right: Box::new(right), pos };
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, KqlError> {
        let left = self.additive()?;
        let pos = self.pos();
        // `!` before a word operator: `!has`, `!in`, `!contains`, `!between`.
        let negated = self.is_sym("!") && matches!(self.peek_at(1), Tok::Ident(_));
        if negated {
            self.next();
        }
        let op = match self.peek().clone() {
            Tok::Sym(s @ ("==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "=~" | "!~")) if !negated => {
                self.next();
                let right = self.additive()?;
                let op = if s == "<>" { "!=" } else { s };
                return Ok(Expr::Binary { op: op.into(), left: Box::new(left), right: Box::new(right), pos });
            }
            Tok::Ident(word) => word,
            _ => return Ok(left),
        };
        let prefix = if negated { "!" } else { "" };
        if WORD_OPERATORS.contains(&op.as_str()) {
            self.next();
            let right = self.additive()?;
            return Ok(Expr::Binary { op: format!("{prefix}{op}"), left: Box::new(left), right: Box::new(right), pos });
        }
        if op == "matches" {
            self.next();
            self.word("regex")?;
            let right = self.additive()?;
            return Ok(Expr::Binary {
                op: format!("{prefix}matches regex"),
                left: Box::new(left),
                right: Box::new(right),
                pos,
            });
        }
        if op == "between" {
            self.next();
            self.sym("(")?;
            let low = self.additive()?;
            self.sym("..")?;
            let high = self.additive()?;
            self.sym(")")?;
            return Ok(Expr::Between { negated, expr: Box::new(left), low: Box::new(low), high: Box::new(high), pos });
        }
        let mut list_op = op.clone();
        if op == "in" || LIST_OPERATORS.contains(&op.as_str()) {
            self.next();
            if op == "in" && self.eat_sym("~") {
                list_op = "in~".into();
            }
            self.sym("(")?;
            let list = self.args(")")?;
            return Ok(Expr::ListOp { op: format!("{prefix}{list_op}"), expr: Box::new(left), list, pos });
        }
        if negated {
            return Err(KqlError::syntax(pos, format!("`!{op}` is not an operator")));
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr, KqlError> {
        self.chain(Self::multiplicative, |p| match p.peek() {
            Tok::Sym(s @ ("+" | "-")) => Some(*s),
            _ => None,
        })
    }

    fn multiplicative(&mut self) -> Result<Expr, KqlError> {
        self.chain(Self::unary, |p| match p.peek() {
            Tok::Sym(s @ ("*" | "/" | "%")) => Some(*s),
            _ => None,
        })
    }

    fn unary(&mut self) -> Result<Expr, KqlError> {
        let pos = self.pos();
        if self.eat_sym("-") {
            self.deeper()?;
            let expr = self.unary()?;
            self.depth -= 1;
            return Ok(match expr {
                Expr::Literal(Literal::Long(n), _) => Expr::Literal(Literal::Long(-n), pos),
                Expr::Literal(Literal::Real(n), _) => Expr::Literal(Literal::Real(-n), pos),
                Expr::Literal(Literal::Timespan(n), _) => Expr::Literal(Literal::Timespan(-n), pos),
                other => Expr::Unary { op: "-", expr: Box::new(other), pos },
            });
        }
        if self.eat_sym("+") {
            return self.unary();
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, KqlError> {
        let mut expr = self.primary()?;
        loop {
            let pos = self.pos();
            if self.is_sym(".") && matches!(self.peek_at(1), Tok::Sym("[")) {
                // `x.[0]`, an older spelling of `x[0]`.
                self.next();
                continue;
            }
            if self.is_sym(".") && matches!(self.peek_at(1), Tok::Ident(_) | Tok::Quoted(_)) {
                self.next();
                let name = self.name()?;
                expr = Expr::Member(Box::new(expr), name, pos);
            } else if self.eat_sym("[") {
                let index = self.expr()?;
                self.sym("]")?;
                expr = match index {
                    Expr::Literal(Literal::Str(key), _) => Expr::Member(Box::new(expr), key, pos),
                    index => Expr::Index(Box::new(expr), Box::new(index), pos),
                };
            } else if let Tok::Quoted(key) = self.peek().clone() {
                // `x['key']` lexed as one bracketed name.
                self.next();
                expr = Expr::Member(Box::new(expr), key, pos);
            } else {
                return Ok(expr);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, KqlError> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Str(s) => {
                self.next();
                // Adjacent string literals are one string.
                let mut s = s;
                while let Tok::Str(more) = self.peek().clone() {
                    self.next();
                    s.push_str(&more);
                }
                Ok(Expr::Literal(Literal::Str(s), pos))
            }
            Tok::Long(n) => {
                self.next();
                Ok(Expr::Literal(Literal::Long(n), pos))
            }
            Tok::Real(n) => {
                self.next();
                Ok(Expr::Literal(Literal::Real(n), pos))
            }
            Tok::Span(n) => {
                self.next();
                Ok(Expr::Literal(Literal::Timespan(n), pos))
            }
            Tok::Sym("(") => {
                if self.at + 1 < self.tokens.len() {
                    self.next();
                    if self.pipes_before_close() {
                        let table = self.tabular()?;
                        self.sym(")")?;
                        return Ok(Expr::Tabular(Box::new(table), pos));
                    }
                    let first = self.expr()?;
                    // `(a, b)`: a list, as the right side of `in` would read it.
                    if self.is_sym(",") {
                        let mut items = vec![first];
                        while self.eat_sym(",") {
                            items.push(self.expr()?);
                        }
                        self.sym(")")?;
                        return Ok(Expr::Call { name: "pack_array".into(), args: items, pos });
                    }
                    self.sym(")")?;
                    return Ok(first);
                }
                Err(self.expected("an expression"))
            }
            Tok::Quoted(name) => {
                self.next();
                Ok(Expr::Name(name, pos))
            }
            Tok::Ident(word) => {
                self.next();
                match word.as_str() {
                    "true" => return Ok(Expr::Literal(Literal::Bool(true), pos)),
                    "false" => return Ok(Expr::Literal(Literal::Bool(false), pos)),
                    _ => {}
                }
                if !self.is_sym("(") {
                    return Ok(Expr::Name(word, pos));
                }
                self.next();
                match word.as_str() {
                    "datetime" | "timespan" | "guid" => {
                        let text = match self.next().tok {
                            Tok::Str(text) => text,
                            _ => return Err(KqlError::syntax(pos, format!("`{word}(...)` needs a literal"))),
                        };
                        self.sym(")")?;
                        literal_of(&word, &text, pos)
                    }
                    "dynamic" => {
                        let value = self.json()?;
                        self.sym(")")?;
                        Ok(Expr::Literal(Literal::Dynamic(value), pos))
                    }
                    "bool" | "boolean" | "int" | "long" | "real" | "double" | "string" | "decimal"
                        if self.is_word("null") =>
                    {
                        self.next();
                        self.sym(")")?;
                        Ok(Expr::Literal(Literal::Null(Type::parse(&word).unwrap_or(Type::String)), pos))
                    }
                    "bool" | "boolean" | "int" | "long" | "real" | "double" => {
                        // Typed literals: `long(5)`, `real(1.5)`, `bool(true)`.
                        let inner = self.expr()?;
                        self.sym(")")?;
                        let cast = match word.as_str() {
                            "bool" | "boolean" => "tobool",
                            "int" => "toint",
                            "long" => "tolong",
                            _ => "toreal",
                        };
                        Ok(Expr::Call { name: cast.into(), args: vec![inner], pos })
                    }
                    _ => Ok(Expr::Call { name: canonical(&word).to_string(), args: self.args(")")?, pos }),
                }
            }
            _ => Err(self.expected("an expression")),
        }
    }

    /// The JSON-like body of `dynamic(...)`.
    fn json(&mut self) -> Result<serde_json::Value, KqlError> {
        use serde_json::Value;
        self.deeper()?;
        let pos = self.pos();
        let value = match self.next().tok {
            Tok::Sym("{") => {
                let mut map = serde_json::Map::new();
                while !self.eat_sym("}") {
                    let key = match self.next().tok {
                        Tok::Str(key) | Tok::Ident(key) => key,
                        _ => return Err(KqlError::syntax(pos, "a property name in dynamic({...}) is a string")),
                    };
                    self.sym(":")?;
                    map.insert(key, self.json()?);
                    if !self.eat_sym(",") {
                        self.sym("}")?;
                        break;
                    }
                }
                Value::Object(map)
            }
            Tok::Sym("[") => {
                let mut items = Vec::new();
                while !self.eat_sym("]") {
                    items.push(self.json()?);
                    if !self.eat_sym(",") {
                        self.sym("]")?;
                        break;
                    }
                }
                Value::Array(items)
            }
            Tok::Str(s) => Value::String(s),
            // `['one']`, lexed as a bracketed name.
            Tok::Quoted(s) => Value::Array(vec![Value::String(s)]),
            Tok::Long(n) => Value::from(n),
            Tok::Real(n) => Value::from(n),
            Tok::Sym("-") => match self.next().tok {
                Tok::Long(n) => Value::from(-n),
                Tok::Real(n) => Value::from(-n),
                _ => return Err(KqlError::syntax(pos, "a number is expected after `-`")),
            },
            Tok::Ident(word) if word == "true" => Value::Bool(true),
            Tok::Ident(word) if word == "false" => Value::Bool(false),
            Tok::Ident(word) if word == "null" => Value::Null,
            other => return Err(KqlError::syntax(pos, format!("expected a dynamic value, found {other}"))),
        };
        self.depth -= 1;
        Ok(value)
    }
}

/// `datetime(...)`, `timespan(...)` and `guid(...)` literals.
fn literal_of(kind: &str, text: &str, pos: Pos) -> Result<Expr, KqlError> {
    if text == "null" {
        let ty = match kind {
            "datetime" => Type::Datetime,
            "timespan" => Type::Timespan,
            _ => Type::Guid,
        };
        return Ok(Expr::Literal(Literal::Null(ty), pos));
    }
    match kind {
        "datetime" => crate::time::parse_datetime(text)
            .map(|nanos| Expr::Literal(Literal::Datetime(nanos), pos))
            .ok_or_else(|| KqlError::syntax(pos, format!("`{text}` is not a datetime"))),
        "timespan" => crate::time::parse_timespan(text)
            .map(|nanos| Expr::Literal(Literal::Timespan(nanos), pos))
            .ok_or_else(|| KqlError::syntax(pos, format!("`{text}` is not a timespan"))),
        _ => Ok(Expr::Literal(Literal::Str(text.to_string()), pos)),
    }
}

/// The current name of a function that older queries call by its former name.
/// <https://learn.microsoft.com/en-us/kusto/query/deprecated-functions> and the pages of each.
fn canonical(name: &str) -> &str {
    match name {
        "makeset" => "make_set",
        "makelist" => "make_list",
        "makeset_if" | "makesetif" => "make_set_if",
        "makelist_if" | "makelistif" => "make_list_if",
        "makebag" => "make_bag",
        "arraylength" => "array_length",
        "parsejson" => "parse_json",
        "extractjson" => "extract_json",
        "any" => "take_any",
        "anyif" => "take_anyif",
        "tohex" => "tohex",
        other => other,
    }
}
