//! Where the cases of a corpus lie in its text, found line by line (the
//! YAML parser gives no positions per item), and the values written on a
//! line: what blessing needs to edit a file in place.

/// One `key: value` line of a case, and the lines its value continues on.
#[derive(Clone, Debug)]
pub(super) struct KeyLine {
    pub(super) key: String,
    /// 0-based line index of the key.
    pub(super) line: usize,
    /// One past the last line of the value.
    pub(super) end: usize,
    /// The column where the key starts.
    pub(super) col: usize,
}

/// Where one case (`- ...` item of `cases:`) lies in the text.
#[derive(Clone, Debug)]
pub(crate) struct CaseLayout {
    /// 0-based index of the `- ` line.
    pub(super) line: usize,
    /// The indentation of the case's keys.
    pub(super) indent: usize,
    pub(super) keys: Vec<KeyLine>,
    /// Written in flow style (`- {reply: ..., verdict: ...}`): not editable.
    pub(super) flow: bool,
}

impl CaseLayout {
    pub(super) fn key(&self, key: &str) -> Option<&KeyLine> {
        self.keys.iter().find(|k| k.key == key)
    }
}

/// A line's text without its end, and its end (`\n`, `\r\n` or nothing).
pub(super) fn split_lines(text: &str) -> Vec<(&str, &str)> {
    text.split_inclusive('\n')
        .map(|l| {
            if let Some(s) = l.strip_suffix("\r\n") {
                (s, "\r\n")
            } else if let Some(s) = l.strip_suffix('\n') {
                (s, "\n")
            } else {
                (l, "")
            }
        })
        .collect()
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Blank lines and comment lines carry no YAML content.
fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The key of a `key: value` (or `key:`) text, if it starts with one.
fn key_of(s: &str) -> Option<&str> {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    let rest = &s[end..];
    let after = rest.strip_prefix(':')?;
    (end > 0 && (after.is_empty() || after.starts_with([' ', '\t']))).then(|| &s[..end])
}

/// Finds every item of the top-level `cases:` sequence, and the keys of
/// each. Returns `None` for layouts it does not follow; the caller also
/// checks that it found as many cases as the parser.
pub(super) fn scan_layout(text: &str) -> Option<Vec<CaseLayout>> {
    let lines = split_lines(text);
    let start = lines.iter().position(|(l, _)| {
        l.strip_prefix("cases:")
            .is_some_and(|rest| is_blank_or_comment(rest) || rest.trim().is_empty())
    })?;
    let (items, item_indent) = case_items(&lines, start)?;
    items
        .into_iter()
        .map(|(first, end)| case_layout(&lines, item_indent, first, end))
        .collect()
}

/// The items of the sequence after line `start`: the line of each `- ` and
/// one past its last line; and the indentation of the dashes.
fn case_items(lines: &[(&str, &str)], start: usize) -> Option<(Vec<(usize, usize)>, usize)> {
    let mut items: Vec<(usize, usize)> = Vec::new();
    let mut item_indent = None;
    for (i, (l, _)) in lines.iter().enumerate().skip(start + 1) {
        if is_blank_or_comment(l) {
            continue;
        }
        if l.starts_with("---") || l.starts_with("...") {
            break;
        }
        let ind = indent_of(l);
        let rest = &l[ind..];
        let is_dash = rest == "-" || rest.starts_with("- ");
        let ii = *item_indent.get_or_insert(ind);
        if ind < ii || (ind == ii && !is_dash) {
            break;
        }
        if ind == ii {
            items.push((i, i + 1));
        } else if let Some(last) = items.last_mut() {
            last.1 = i + 1;
        }
    }
    Some((items, item_indent?))
}

/// The keys of the case on lines `first..end`, its dash at `item_indent`.
fn case_layout(
    lines: &[(&str, &str)],
    item_indent: usize,
    first: usize,
    end: usize,
) -> Option<CaseLayout> {
    let (dash_line, _) = lines.get(first)?;
    let after_dash = dash_line.get(item_indent + 1..).unwrap_or("");
    let content = after_dash.trim_start_matches(' ');
    let content_col = dash_line.len() - content.len();
    let mut layout = CaseLayout {
        line: first,
        indent: 0,
        keys: Vec::new(),
        flow: content.starts_with(['{', '[']),
    };
    let mut indent = None;
    if !content.is_empty() && !content.starts_with('#') {
        indent = Some(content_col);
        if let Some(k) = key_of(content) {
            layout.keys.push(KeyLine {
                key: k.to_string(),
                line: first,
                end: first + 1,
                col: content_col,
            });
        }
    }
    for (i, (l, _)) in lines.iter().enumerate().take(end).skip(first + 1) {
        if is_blank_or_comment(l) {
            continue;
        }
        let ind = indent_of(l);
        let ci = *indent.get_or_insert(ind);
        if ind == ci {
            if let Some(k) = key_of(&l[ind..]) {
                layout.keys.push(KeyLine {
                    key: k.to_string(),
                    line: i,
                    end: i + 1,
                    col: ind,
                });
            }
        } else if ind > ci
            && let Some(k) = layout.keys.last_mut()
        {
            k.end = i + 1;
        }
    }
    layout.indent = indent.unwrap_or(item_indent + 2);
    Some(layout)
}

/// The trailing comment of a `key: value` line, with the white space before
/// it, if any.
pub(super) fn trailing_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    let start = value.len() - value.trim_start().len();
    let mut i = start;
    match bytes.get(i) {
        Some(b'"') => {
            i += 1;
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'\\' => i += 2,
                    b'"' => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
        }
        Some(b'\'') => {
            i += 1;
            while let Some(&b) = bytes.get(i) {
                if b == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
        }
        _ => {}
    }
    let rest = value.get(i.min(value.len())..).unwrap_or("");
    // A comment starts with `#` after white space.
    let mut prev_space = i == start;
    for (j, c) in rest.char_indices() {
        if c == '#' && prev_space {
            let ws = rest[..j].len() - rest[..j].trim_end().len();
            return &rest[j - ws..];
        }
        prev_space = c == ' ' || c == '\t';
    }
    ""
}

/// The value written after `key:` on a line, without its comment.
pub(super) fn written_value(line: &str, col: usize, key: &str) -> String {
    let after = line.get(col + key.len() + 1..).unwrap_or("");
    let comment = trailing_comment(after);
    after[..after.len() - comment.len()].trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_finds_every_case_and_its_keys() {
        let text = "# c\nprovider: x\ncases:\n  # first\n  - mx: a\n    reply: \"r\"\n    verdict: hard\n\n  -   reply: >-\n        folded\n        text\n      verdict: soft # why\nother: 1\n";
        assert!(serde_yaml::from_str::<serde_yaml::Value>(text).is_ok());
        let l = scan_layout(text).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].line, 4);
        assert_eq!(l[1].line, 8);
        assert_eq!(l[1].indent, 6);
        let keys: Vec<(&str, usize, usize)> = l[1]
            .keys
            .iter()
            .map(|k| (k.key.as_str(), k.line, k.end))
            .collect();
        assert_eq!(keys, [("reply", 8, 11), ("verdict", 11, 12)]);
    }

    #[test]
    fn layout_of_unindented_sequences() {
        let text =
            "cases:\n- reply: a\n  verdict: hard\n- reply: b\n  verdict: soft\nprovider: x\n";
        let l = scan_layout(text).unwrap();
        assert_eq!(l.iter().map(|c| c.line).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(l[1].keys.len(), 2);
    }

    #[test]
    fn trailing_comments() {
        assert_eq!(trailing_comment(" hard  # why"), "  # why");
        assert_eq!(trailing_comment(" \"a # b\" # c"), " # c");
        assert_eq!(trailing_comment(" 'it''s # x'"), "");
        assert_eq!(trailing_comment(" a#b"), "");
        assert_eq!(written_value("    verdict: hard # x", 4, "verdict"), "hard");
    }
}
