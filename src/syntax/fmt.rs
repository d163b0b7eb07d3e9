//! The canonical layout of a rules file.
//!
//! [`format_file`] prints a parsed file in one fixed layout, keeping every
//! comment; [`format_source`] parses and formats in one step;
//! [`format_tree`] prints a tree built in memory (see [`crate::syntax::ast`]).
//! Formatting is idempotent (formatting formatted text changes nothing), and
//! the formatted text parses back to the same tree, spans aside. This is the
//! one printer of the rules language: whatever writes rules goes through it.
//!
//! ```
//! use mxrules::core::source::FileId;
//! let src = concat!(
//!     "# mail.ru\n",
//!     "mx ends with \".mail.ru\" { initial 5.0.0 {\n",
//!     "/^550 must be local recipient/ -> 5.7.1 bad-mailbox quarantine # wording\n",
//!     "/^550 Message was not accepted -- invalid mailbox/ -> 5.1.1 } }",
//! );
//! let out = mxrules::syntax::fmt::format_source(FileId(0), src).unwrap();
//! let expected = [
//!     "# mail.ru",
//!     "mx ends with \".mail.ru\" {",
//!     "    initial 5.0.0 {",
//!     "        /^550 must be local recipient/                     -> 5.7.1 quarantine bad-mailbox  # wording",
//!     "        /^550 Message was not accepted -- invalid mailbox/ -> 5.1.1",
//!     "    }",
//!     "}",
//! ];
//! assert_eq!(out, expected.join("\n") + "\n");
//! ```
//!
//! # The layout
//!
//! - Indentation is 4 spaces a level; lines end with LF; a formatted file
//!   ends with exactly one newline. A file with no blocks formats to its
//!   comments alone (an empty file to the empty string).
//! - Top-level blocks are separated by one blank line. Inside a block, one
//!   blank line is kept where the source had one or more between two items
//!   (or comments); there is never a blank line right after `{` or right
//!   before `}`, nor between a rule and its examples. Every `{` ends its
//!   line and every `}` stands on its own line, even for an empty block.
//! - `policy {` holds one entry a line, `5.1.1 -> quarantine`, with the
//!   status patterns padded so that the arrows of the block align.
//! - A scope header is `global` or selectors joined by ` or `: `mx is "a",
//!   "b"`, `mx ends with ".x"`, `rcpt domain is "d"`, then ` {`. Strings
//!   are written back with `\"` and `\\` escaped.
//! - `initial 5.0.0, 5.1.* {` holds rules one level deeper.
//! - A rule is `/regex/flags` exactly as written, padded so that the ` -> `
//!   arrows align across the rules directly inside the same block (a scope
//!   body or an `initial` block: padding is to the widest regex there), then
//!   the status, the words (verdicts `quarantine`, `blocked`, `hard` and
//!   `soft` first, the others after them in the order written) and the note.
//!   Each example follows on its own line, one level deeper:
//!   `example "..."`.
//! - A comment on its own line stays on its own line, before what follows it
//!   and at its indentation (a comment before `}` stays inside the block, at
//!   the block's inner indentation; comments after the last block end the
//!   file). A comment that follows the last token of a line on the same
//!   source line stays at the end of that output line, after two spaces.
//!   A comment anywhere else (inside a header, between a regex and its
//!   arrow, ...) moves to its own line before the line that contained it.
//!   Comment text is kept as written, trailing whitespace removed; comments
//!   keep their order and none is ever dropped.

use crate::core::source::FileId;
use crate::diag::Diagnostic;
use crate::syntax::ast::{
    Block, Comment, Example, File, InitialBlock, PolicyBlock, Rule, ScopeBlock, ScopeItem,
    Selector, SelectorKind, escape_string,
};

/// One indentation level.
const INDENT: &str = "    ";

/// The verdict words, printed before the other words of a rule.
const VERDICTS: [&str; 4] = ["quarantine", "blocked", "hard", "soft"];

/// Parses `source` and formats it; a syntax error is returned as the
/// parser's diagnostic, with spans in `file`.
pub fn format_source(file: FileId, source: &str) -> Result<String, Box<Diagnostic>> {
    let parsed = crate::syntax::parse(file, source)?;
    Ok(format_file(&parsed, source))
}

/// Formats a parsed file; `source` is the text it was parsed from (comments
/// and blank lines are read from it via spans).
pub fn format_file(file: &File, source: &str) -> String {
    layout(file, &file.comments, source)
}

/// Formats a tree built in memory, which has no source text: its spans are
/// not read, so no blank line is kept inside a block, and its comments
/// (placed by their spans in a parsed file) are not printed. The layout is
/// otherwise the one [`format_file`] gives a parsed file.
pub fn format_tree(file: &File) -> String {
    layout(file, &[], "")
}

/// The layout of `file` with `comments`, read against `source`.
fn layout(file: &File, comments: &[Comment], source: &str) -> String {
    let mut b = Builder {
        src: source.as_bytes(),
        lines: Vec::new(),
    };
    for block in &file.blocks {
        match block {
            Block::Policy(p) => b.policy(p),
            Block::Scope(s) => b.scope(s),
        }
    }
    let mut lines = b.lines;
    let gaps = place_comments(&mut lines, comments, source.as_bytes());
    render(&lines, &gaps, source.as_bytes())
}

/// What a line of output is, for the blank-line rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A line ending with `{`.
    Open,
    /// A line holding `}`.
    Close,
    /// A policy entry or a rule.
    Item,
    /// An example of a rule.
    Example,
}

/// One line of output and the source text it stands for.
#[derive(Debug)]
struct Line {
    indent: usize,
    text: String,
    /// Byte offset of the line's first token in the source.
    start: usize,
    /// Byte offset just past the line's last token in the source.
    end: usize,
    kind: Kind,
    /// A comment printed at the end of the line.
    trailing: Option<String>,
}

struct Builder<'s> {
    src: &'s [u8],
    lines: Vec<Line>,
}

impl Builder<'_> {
    fn push(&mut self, indent: usize, text: String, start: usize, end: usize, kind: Kind) {
        self.lines.push(Line {
            indent,
            text,
            start,
            end,
            kind,
            trailing: None,
        });
    }

    /// The offset just past the `{` that follows `from`, skipping
    /// whitespace and comments.
    fn open_brace_end(&self, from: usize) -> usize {
        let mut i = from;
        while let Some(&c) = self.src.get(i) {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                b'#' => {
                    while self.src.get(i).is_some_and(|&c| c != b'\n' && c != b'\r') {
                        i += 1;
                    }
                }
                b'{' => return i + 1,
                _ => break,
            }
        }
        from
    }

    fn policy(&mut self, p: &PolicyBlock) {
        let open = self.open_brace_end(p.keyword.end as usize);
        self.push(
            0,
            "policy {".to_string(),
            p.keyword.start as usize,
            open,
            Kind::Open,
        );
        let width = p
            .entries
            .iter()
            .map(|e| e.pattern.value.chars().count())
            .max()
            .unwrap_or(0);
        for e in &p.entries {
            let text = format!("{:<width$} -> {}", e.pattern.value, e.verdict.value);
            self.push(
                1,
                text,
                e.span.start as usize,
                e.span.end as usize,
                Kind::Item,
            );
        }
        self.close(0, p.close);
    }

    fn close(&mut self, indent: usize, span: crate::core::source::Span) {
        self.push(
            indent,
            "}".to_string(),
            span.start as usize,
            span.end as usize,
            Kind::Close,
        );
    }

    fn scope(&mut self, s: &ScopeBlock) {
        let header = s
            .header
            .selectors
            .iter()
            .map(selector)
            .collect::<Vec<_>>()
            .join(" or ");
        let open = self.open_brace_end(s.header.span.end as usize);
        self.push(
            0,
            format!("{header} {{"),
            s.span.start as usize,
            open,
            Kind::Open,
        );
        let width = regex_width(s.items.iter().filter_map(|i| match i {
            ScopeItem::Rule(r) => Some(r),
            ScopeItem::Initial(_) => None,
        }));
        for item in &s.items {
            match item {
                ScopeItem::Rule(r) => self.rule(1, width, r),
                ScopeItem::Initial(b) => self.initial(b),
            }
        }
        self.close(0, s.close);
    }

    fn initial(&mut self, b: &InitialBlock) {
        let patterns = b
            .patterns
            .iter()
            .map(|p| p.value.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let from = b.header().end;
        let open = self.open_brace_end(from as usize);
        let mut head = if b.patterns.is_empty() {
            String::new()
        } else {
            format!("initial {patterns} ")
        };
        if !b.reported.is_empty() {
            let words: Vec<&str> = b.reported.iter().map(|w| w.value.as_str()).collect();
            head.push_str(&format!("reported {} ", words.join(", ")));
        }
        self.push(
            1,
            format!("{head}{{"),
            b.keyword.start as usize,
            open,
            Kind::Open,
        );
        let width = regex_width(b.rules.iter());
        for r in &b.rules {
            self.rule(2, width, r);
        }
        self.close(1, b.close);
    }

    fn rule(&mut self, indent: usize, width: usize, r: &Rule) {
        let mut text = format!("{:<width$} -> {}", regex_text(r), r.status.value);
        let mut end = r.status.span.end;
        let (verdicts, others): (Vec<_>, Vec<_>) = r
            .words
            .iter()
            .partition(|w| VERDICTS.contains(&w.value.as_str()));
        for w in verdicts.iter().chain(others.iter()) {
            text.push(' ');
            text.push_str(&w.value);
            end = end.max(w.span.end);
        }
        if let Some(note) = &r.note {
            text.push_str(&format!(" \"{}\"", escape_string(&note.value)));
            end = end.max(note.span.end);
        }
        self.push(
            indent,
            text,
            r.span.start as usize,
            end as usize,
            Kind::Item,
        );
        for e in &r.examples {
            self.example(indent + 1, e);
        }
    }

    fn example(&mut self, indent: usize, e: &Example) {
        let text = format!("example \"{}\"", escape_string(&e.reply.value));
        self.push(
            indent,
            text,
            e.span.start as usize,
            e.span.end as usize,
            Kind::Example,
        );
    }
}

/// `/regex/flags`
fn regex_text(r: &Rule) -> String {
    format!("/{}/{}", r.regex.value, r.flags.value)
}

/// The width of the widest `/regex/flags` among `rules`.
fn regex_width<'a>(rules: impl Iterator<Item = &'a Rule>) -> usize {
    rules
        .map(|r| regex_text(r).chars().count())
        .max()
        .unwrap_or(0)
}

/// One selector of a scope header: `mx ends with ".mail.ru"`.
fn selector(s: &Selector) -> String {
    let keywords = match s.kind {
        SelectorKind::Global => return "global".to_string(),
        SelectorKind::MxIs => "mx is",
        SelectorKind::MxEndsWith => "mx ends with",
        SelectorKind::RcptDomainIs => "rcpt domain is",
    };
    let values = s
        .values
        .iter()
        .map(|v| format!("\"{}\"", escape_string(&v.value)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{keywords} {values}")
}

/// Gives each comment its place: the end of a line (`Line::trailing`), or
/// the gap before a line; `gaps[i]` holds the comments printed before
/// `lines[i]`, and `gaps[lines.len()]` those printed after the last line.
fn place_comments<'c>(
    lines: &mut [Line],
    comments: &'c [Comment],
    src: &[u8],
) -> Vec<Vec<&'c Comment>> {
    let mut gaps: Vec<Vec<&Comment>> = vec![Vec::new(); lines.len() + 1];
    for c in comments {
        let start = c.span.start as usize;
        // The end of the token before the comment, when it is on the same line.
        let mut i = start;
        while i > 0 && matches!(src.get(i - 1), Some(b' ' | b'\t')) {
            i -= 1;
        }
        let same_line = i > 0 && !matches!(src.get(i - 1), Some(b'\n' | b'\r'));
        if same_line
            && let Ok(at) = lines.binary_search_by_key(&i, |l| l.end)
            && let Some(line) = lines.get_mut(at)
            && line.trailing.is_none()
        {
            line.trailing = Some(c.text.trim_end().to_string());
            continue;
        }
        // Before the first line that has not ended where the comment starts.
        let at = lines.partition_point(|l| l.end <= start);
        if let Some(gap) = gaps.get_mut(at) {
            gap.push(c);
        }
    }
    gaps
}

/// True when the source between `from` and `to` holds a blank line.
fn has_blank_line(src: &[u8], from: usize, to: usize) -> bool {
    let Some(text) = src.get(from..to) else {
        return false;
    };
    let mut after_newline = false;
    for &c in text {
        match c {
            b'\n' if after_newline => return true,
            b'\n' => after_newline = true,
            b' ' | b'\t' | b'\r' => {}
            _ => after_newline = false,
        }
    }
    false
}

/// Writes the lines, with each gap's comments before its line and blank
/// lines where the layout keeps them.
fn render(lines: &[Line], gaps: &[Vec<&Comment>], src: &[u8]) -> String {
    let widths = trailing_widths(lines, gaps, src);
    let mut out = String::new();
    for (at, gap) in gaps.iter().enumerate() {
        let prev = at.checked_sub(1).and_then(|i| lines.get(i));
        let next = lines.get(at);
        // Comments before a `}` are inside its block.
        let comment_indent = match next {
            Some(l) if l.kind == Kind::Close => l.indent + 1,
            Some(l) => l.indent,
            None => 0,
        };
        // The elements of the gap: its comments, then its line.
        let mut elements: Vec<(usize, usize, bool)> = gap
            .iter()
            .map(|c| (c.span.start as usize, c.span.end as usize, false))
            .collect();
        if let Some(l) = next {
            elements.push((l.start, l.end, true));
        }
        let mut blanks = Vec::with_capacity(elements.len());
        let mut before = prev.map(|l| (l.end, l.kind));
        for &(start, end, is_line) in &elements {
            let blank = match before {
                None => false,
                Some(_) if next.is_some_and(|l| l.kind == Kind::Example) => false,
                Some((_, Kind::Open)) if blanks.is_empty() => false,
                Some(_) if is_line && next.is_some_and(|l| l.kind == Kind::Close) => false,
                Some((from, _)) => has_blank_line(src, from, start),
            };
            blanks.push(blank);
            before = Some((end, Kind::Item));
        }
        // Top-level blocks are always one blank line apart.
        let between_blocks =
            prev.is_some_and(|l| l.kind == Kind::Close && l.indent == 0) && next.is_some();
        if between_blocks
            && !blanks.contains(&true)
            && let Some(first) = blanks.first_mut()
        {
            *first = true;
        }
        for (i, &blank) in blanks.iter().enumerate() {
            if blank {
                out.push('\n');
            }
            match gap.get(i) {
                Some(c) => {
                    push_indent(&mut out, comment_indent);
                    out.push_str(c.text.trim_end());
                    out.push('\n');
                }
                None => {
                    if let Some(l) = next {
                        push_indent(&mut out, l.indent);
                        out.push_str(&l.text);
                        if let Some(t) = &l.trailing {
                            let width = widths.get(at).copied().unwrap_or(0);
                            for _ in l.text.chars().count()..width {
                                out.push(' ');
                            }
                            out.push_str("  ");
                            out.push_str(t);
                        }
                        out.push('\n');
                    }
                }
            }
        }
    }
    out
}

/// The width each line's text is padded to before its trailing comment, so
/// that the trailing comments of consecutive entries, rules and examples of
/// one block line up. A run ends at a line without a trailing comment, at a
/// brace, a change of indentation,
/// an own-line comment or a blank line.
fn trailing_widths(lines: &[Line], gaps: &[Vec<&Comment>], src: &[u8]) -> Vec<usize> {
    let mut widths = vec![0; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        let aligned =
            |l: &Line| l.trailing.is_some() && matches!(l.kind, Kind::Item | Kind::Example);
        if !aligned(&lines[i]) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < lines.len()
            && aligned(&lines[j])
            && lines[j].indent == lines[i].indent
            && gaps.get(j).is_none_or(|g| g.is_empty())
            && !has_blank_line(src, lines[j - 1].end, lines[j].start)
        {
            j += 1;
        }
        let width = lines[i..j]
            .iter()
            .map(|l| l.text.chars().count())
            .max()
            .unwrap_or(0);
        for w in &mut widths[i..j] {
            *w = width;
        }
        i = j;
    }
    widths
}

fn push_indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str(INDENT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_are_lines_of_whitespace_only() {
        let src = b"a \n \t\r\n b\n# c\nd";
        assert!(has_blank_line(src, 1, src.len()));
        assert!(!has_blank_line(src, 9, src.len()));
        assert!(!has_blank_line(src, 5, 2));
    }

    #[test]
    fn open_brace_is_found_past_comments() {
        let b = Builder {
            src: b"policy # {\n {",
            lines: Vec::new(),
        };
        assert_eq!(b.open_brace_end(6), 13);
        assert_eq!(b.open_brace_end(0), 0);
    }

    #[test]
    fn trailing_and_odd_comments() {
        let src = "policy { 5.1.1 # odd\n -> quarantine # trailing\n}";
        let out = format_source(FileId(0), src);
        assert_eq!(
            out.as_deref().ok(),
            Some("policy {\n    # odd\n    5.1.1 -> quarantine  # trailing\n}\n")
        );
    }

    #[test]
    fn a_parsed_tree_printed_without_its_source_loses_only_comments_and_blank_lines() {
        let src = concat!(
            "# head\n",
            "policy {\n    5.1.1 -> quarantine\n\n    5.*.* -> hard  # trailing\n}\n",
            "\n",
            "global {\n    /a/ -> 5.0.0\n    /bb/i -> 5.1.1 hard \"n\"\n        example \"a\"\n}\n",
        );
        let parsed = crate::syntax::parse(FileId(0), src);
        let out = parsed.as_ref().map(format_tree).ok();
        assert_eq!(
            out.as_deref(),
            Some(concat!(
                "policy {\n    5.1.1 -> quarantine\n    5.*.* -> hard\n}\n",
                "\n",
                "global {\n    /a/   -> 5.0.0\n    /bb/i -> 5.1.1 hard \"n\"\n        example \"a\"\n}\n",
            ))
        );
    }
}
