//! The pest parser, and pest's errors in plain words.

use std::num::NonZeroUsize;

use pest::Parser as _;
use pest::error::{Error, ErrorVariant, InputLocation};
use pest::iterators::Pairs;

use crate::core::source::{FileId, Span};
use crate::diag::{Code, Diagnostic};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/mxrules.pest"]
pub(super) struct RulesParser;

/// Parses a whole file with a call limit that grows with its size, so that a
/// pathological input ends in an error instead of running away.
pub(super) fn parse_file(text: &str) -> Result<Pairs<'_, Rule>, Box<Error<Rule>>> {
    let limit = text.len().saturating_mul(64).max(1_000_000);
    pest::set_call_limit(NonZeroUsize::new(limit));
    RulesParser::parse(Rule::file, text).map_err(Box::new)
}

/// What a grammar rule is called in a diagnostic.
fn describe(r: &Rule) -> &'static str {
    match r {
        Rule::k_domain => "`domain`",
        Rule::k_ends => "`ends`",
        Rule::k_example => "`example`",
        Rule::k_global => "`global`",
        Rule::k_initial => "`initial`",
        Rule::k_is => "`is`",
        Rule::k_mx => "`mx`",
        Rule::k_or => "`or`",
        Rule::k_policy => "`policy`",
        Rule::k_rcpt => "`rcpt`",
        Rule::k_reported => "`reported`",
        Rule::reported_clause => "`reported` and a category",
        Rule::k_with => "`with`",
        Rule::keyword => "a keyword",
        Rule::WHITESPACE => "white space",
        Rule::COMMENT => "a comment",
        Rule::file => "a rules file",
        Rule::policy => "a `policy` block",
        Rule::policy_entry => "a policy entry like `5.1.1 -> quarantine`",
        Rule::scope => "a scope block like `mx ends with \".example.com\" { ... }`",
        Rule::scope_header => "a scope like `mx is \"host\"` or `global`",
        Rule::mx_is => "`mx is \"host\"`",
        Rule::mx_ends_with => "`mx ends with \".suffix\"`",
        Rule::rcpt_domain_is => "`rcpt domain is \"domain\"`",
        Rule::string_list => "a quoted string",
        Rule::initial_block => "an `initial` or `reported` block",
        Rule::status_pattern_list => "a status like `5.0.0` or `5.1.*`",
        Rule::rule => "a rule like `/regex/ -> 5.1.1`",
        Rule::example => "`example \"reply\"`",
        Rule::regex => "a regex like `/^550 /`",
        Rule::regex_body => "the text of a regex",
        Rule::regex_end => "`/` to close the regex",
        Rule::regex_flags => "regex flags",
        Rule::status_pattern => "a status like `5.1.1`",
        Rule::word => "a verdict or a category",
        Rule::string => "a quoted string",
        Rule::string_body => "the text of a string",
        Rule::string_end => "`\"` to close the string",
        Rule::arrow => "`->`",
        Rule::open_brace => "`{`",
        Rule::close_brace => "`}`",
        Rule::EOI => "the end of the file",
        Rule::ident_char => "a letter, a digit, `-` or `_`",
        Rule::block => "a `policy` block or a scope block",
        Rule::selector => "a scope like `mx is \"host\"`",
        Rule::scope_item => "a rule or an `initial` block",
        Rule::status_part => "a number or `*`",
    }
}

/// Words for a list of alternatives: "`a`, `b` or `c`".
fn one_of(mut items: Vec<&'static str>) -> String {
    items.sort_unstable();
    items.dedup();
    match items.len() {
        0 => String::from("something else"),
        1 => items[0].to_string(),
        n => format!("{} or {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

/// What stands at `pos`: the next token, in backticks, or "the end of the file".
fn found_at(text: &str, pos: usize) -> String {
    let rest = text.get(pos..).unwrap_or("");
    let token: String = match rest.chars().next() {
        None => return String::from("the end of the file"),
        Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '*' => {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '*'))
                .take(40)
                .collect()
        }
        Some('\n') | Some('\r') => return String::from("the end of the line"),
        Some(c) if c.is_control() || c == '\u{fffd}' => {
            return format!("the character U+{:04X}", c as u32);
        }
        Some(c) => c.to_string(),
    };
    format!("`{token}`")
}

/// The span of the token at `pos`, for the caret.
fn token_span(file: FileId, text: &str, pos: usize) -> Span {
    let rest = text.get(pos..).unwrap_or("");
    let len = match rest.chars().next() {
        None => 0,
        Some(c) if c.is_ascii_alphanumeric() => rest
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '*')))
            .map_or(rest.len(), |(i, _)| i)
            .min(40),
        Some('\n') | Some('\r') => 0,
        Some(c) => c.len_utf8(),
    };
    Span::new(file, pos, pos + len)
}

pub(super) fn error_to_diagnostic(file: FileId, text: &str, e: &Error<Rule>) -> Diagnostic {
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut expected: Vec<&'static str> = positives
                .iter()
                .filter(|r| !matches!(r, Rule::WHITESPACE | Rule::COMMENT | Rule::keyword))
                .map(describe)
                .collect();
            // Inside a regex or a string the only way forward is to close it.
            let unterminated_regex =
                positives.contains(&Rule::regex_end) || positives.contains(&Rule::regex_body);
            let unterminated_string = positives.contains(&Rule::string_end) && !unterminated_regex;
            let bad_escape =
                unterminated_string && text.get(pos..).is_some_and(|r| r.starts_with('\\'));
            if expected.is_empty() {
                expected.push("something else");
            }
            let found = found_at(text, pos);
            let mut d = Diagnostic::new(
                Code::Syntax,
                format!("expected {}, found {}", one_of(expected.clone()), found),
                token_span(file, text, pos),
                format!("expected {}", one_of(expected)),
            );
            if unterminated_regex {
                d.message = String::from("unterminated regex");
                d.primary.text = String::from("the regex needs a closing `/` on this line");
                d = d.with_help("write `\\/` for a slash inside a regex");
            } else if bad_escape {
                let esc: String = text.get(pos..).unwrap_or("").chars().take(2).collect();
                d.message = format!("unknown escape `{esc}` in a string");
                d.primary.span = Span::new(file, pos, pos + esc.len());
                d.primary.text = String::from("not an escape");
                d = d.with_help("the only escapes in a string are `\\\"` and `\\\\`");
            } else if unterminated_string {
                d.message = String::from("unterminated string");
                d.primary.text = String::from("the string needs a closing `\"` on this line");
                d = d.with_help("write `\\\"` for a quote inside a string");
            }
            d
        }
        ErrorVariant::CustomError { message } => {
            let (code, msg) = if message.contains("call limit") {
                (
                    Code::TooComplex,
                    String::from("file is too complex to parse within the parser's call limit"),
                )
            } else {
                (Code::Syntax, message.clone())
            };
            Diagnostic::new(
                code,
                msg,
                token_span(file, text, pos),
                "parsing stopped here",
            )
        }
    }
}
