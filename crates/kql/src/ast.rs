//! The parsed query: statements, tabular operators and scalar expressions.

use crate::lex::Pos;

#[derive(Debug, Clone)]
pub enum Statement {
    Let {
        name: String,
        value: LetValue,
        pos: Pos,
    },
    /// `set option = value;`: read and ignored (query options do not change answers here).
    Set,
    Query(Tabular),
    /// A function body's scalar result: `let f = (x: string) { tolower(x) };`.
    Expr(Expr),
}

#[derive(Debug, Clone)]
pub enum LetValue {
    Scalar(Expr),
    Tabular(Box<Tabular>),
    Function { params: Vec<Param>, body: Vec<Statement> },
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    /// `(T: (*))` or `(T: (Col: type))`: a tabular parameter.
    pub tabular: bool,
    pub default: Option<Expr>,
}

/// A tabular expression: a source and the operators piped after it.
#[derive(Debug, Clone)]
pub struct Tabular {
    pub source: Source,
    pub ops: Vec<(Op, Pos)>,
}

#[derive(Debug, Clone)]
pub enum Source {
    /// A table, a tabular `let`, or a function called with arguments.
    Name {
        name: String,
        args: Option<Vec<Expr>>,
        pos: Pos,
    },
    Datatable {
        columns: Vec<(String, Type)>,
        values: Vec<Expr>,
        pos: Pos,
    },
    Union {
        options: UnionOptions,
        tables: Vec<Tabular>,
    },
    Print(Vec<Named>),
    Range {
        column: String,
        from: Box<Expr>,
        to: Box<Expr>,
        step: Box<Expr>,
    },
    Nested(Box<Tabular>),
    Materialize(Box<Tabular>),
    /// `externaldata(...)[urls]`: read from the network, which Sleuth does not do.
    External {
        pos: Pos,
    },
}

#[derive(Debug, Clone, Default)]
pub struct UnionOptions {
    pub with_source: Option<String>,
    pub outer: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Bool,
    Int,
    Long,
    Real,
    Decimal,
    String,
    Datetime,
    Timespan,
    Dynamic,
    Guid,
}

impl Type {
    pub fn parse(name: &str) -> Option<Type> {
        Some(match name {
            "bool" | "boolean" => Type::Bool,
            "int" => Type::Int,
            "long" => Type::Long,
            "real" | "double" => Type::Real,
            "decimal" => Type::Decimal,
            "string" => Type::String,
            "datetime" | "date" => Type::Datetime,
            "timespan" | "time" => Type::Timespan,
            "dynamic" => Type::Dynamic,
            "guid" | "uniqueid" => Type::Guid,
            _ => return None,
        })
    }
}

/// `name = expr`, or an expression whose column name is derived from it.
#[derive(Debug, Clone)]
pub struct Named {
    /// One name, or several for `(a, b) = arg_max(...)`.
    pub names: Vec<String>,
    pub expr: Expr,
}

#[derive(Debug, Clone)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    InnerUnique,
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
    LeftSemi,
    LeftAnti,
    RightSemi,
    RightAnti,
}

#[derive(Debug, Clone)]
pub enum JoinKey {
    /// `on Col`: the same name on both sides.
    Same(String),
    /// `on $left.A == $right.B`.
    Pair(String, String),
}

#[derive(Debug, Clone)]
pub enum ParsePart {
    Literal(String),
    Column(String, Option<Type>),
    Star,
}

#[derive(Debug, Clone)]
pub enum Op {
    Where(Expr),
    Extend(Vec<Named>),
    Project(Vec<Named>),
    ProjectAway(Vec<String>),
    ProjectKeep(Vec<String>),
    ProjectRename(Vec<(String, String)>),
    ProjectReorder(Vec<String>),
    Summarize { aggregates: Vec<Named>, by: Vec<Named> },
    Count,
    Distinct(Vec<Named>),
    Top { count: Expr, key: SortKey },
    Sort(Vec<SortKey>),
    Take(Expr),
    Join { kind: JoinKind, right: Tabular, on: Vec<JoinKey> },
    Lookup { kind: JoinKind, right: Tabular, on: Vec<JoinKey> },
    Union { options: UnionOptions, tables: Vec<Tabular> },
    MvExpand { columns: Vec<(Named, Option<Type>)>, limit: Option<Expr> },
    Parse { source: Expr, parts: Vec<ParsePart> },
    Invoke { name: String, args: Vec<Expr> },
    Evaluate { plugin: String },
    As(String),
    Serialize(Vec<Named>),
    GetSchema,
}

#[derive(Debug, Clone)]
pub enum Literal {
    Null(Type),
    Bool(bool),
    Long(i64),
    Real(f64),
    Str(String),
    /// Nanoseconds since the Unix epoch.
    Datetime(i64),
    /// Nanoseconds.
    Timespan(i64),
    Dynamic(serde_json::Value),
}

#[derive(Debug, Clone)]
pub enum Expr {
    Literal(Literal, Pos),
    Name(String, Pos),
    /// `x.name` and `x['name']`.
    Member(Box<Expr>, String, Pos),
    /// `x[expr]`.
    Index(Box<Expr>, Box<Expr>, Pos),
    Call {
        name: String,
        args: Vec<Expr>,
        pos: Pos,
    },
    Unary {
        op: &'static str,
        expr: Box<Expr>,
        pos: Pos,
    },
    Binary {
        op: String,
        left: Box<Expr>,
        right: Box<Expr>,
        pos: Pos,
    },
    /// `x in (a, b)`, `x !in~ (T | project c)`, `x has_any (...)`.
    ListOp {
        op: String,
        expr: Box<Expr>,
        list: Vec<Expr>,
        pos: Pos,
    },
    Between {
        negated: bool,
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        pos: Pos,
    },
    /// A tabular expression where a value or a list is expected: `x in (T | project c)`,
    /// `toscalar(T | count)`.
    Tabular(Box<Tabular>, Pos),
    /// `*` as an argument (`arg_max(T, *)`, `count(*)`).
    Star(Pos),
}

impl Expr {
    pub fn pos(&self) -> Pos {
        match self {
            Expr::Literal(_, pos)
            | Expr::Name(_, pos)
            | Expr::Member(_, _, pos)
            | Expr::Index(_, _, pos)
            | Expr::Call { pos, .. }
            | Expr::Unary { pos, .. }
            | Expr::Binary { pos, .. }
            | Expr::ListOp { pos, .. }
            | Expr::Between { pos, .. }
            | Expr::Tabular(_, pos)
            | Expr::Star(pos) => *pos,
        }
    }
}
