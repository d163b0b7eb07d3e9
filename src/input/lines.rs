//! Reading an input line by line, with line numbers.

use std::io::BufRead;

use super::Source;
use crate::core::bytes::{count_byte, find_byte};

/// Lines of a byte stream, as bytes without the line break (`\n` or
/// `\r\n`), numbered from 1. A line longer than [`MAX_LINE`] is cut there
/// (the rest is read and dropped) and flagged, so that one huge line cannot
/// take all the memory.
pub(crate) struct Lines {
    reader: Source,
    buf: Vec<u8>,
    number: usize,
    /// Set when the input could not be read; the iteration ends.
    pub(crate) error: Option<std::io::Error>,
    /// A read error happened: no more lines, even once `error` was taken
    /// (an error that persists must not be reported forever).
    failed: bool,
}

/// The longest line kept whole.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// One line.
pub(crate) struct Line<'a> {
    pub(crate) number: usize,
    pub(crate) bytes: &'a [u8],
    /// The line was longer than [`MAX_LINE`] and was cut.
    pub(crate) truncated: bool,
}

impl Lines {
    pub(crate) fn new(reader: Source) -> Lines {
        Lines {
            reader,
            buf: Vec::new(),
            number: 0,
            error: None,
            failed: false,
        }
    }

    /// How many lines were read.
    pub(crate) fn number(&self) -> usize {
        self.number
    }

    /// The next line, or `None` at the end of the input or on a read error
    /// (kept in [`Lines::error`]).
    pub(crate) fn next_line(&mut self) -> Option<Line<'_>> {
        if self.failed {
            return None;
        }
        self.buf.clear();
        let mut truncated = false;
        loop {
            let (done, used) = match self.reader.fill_buf() {
                Ok([]) => (true, 0),
                Ok(chunk) => match chunk.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        keep(&mut self.buf, &chunk[..i], &mut truncated);
                        (true, i + 1)
                    }
                    None => {
                        keep(&mut self.buf, chunk, &mut truncated);
                        (false, chunk.len())
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.error = Some(e);
                    self.failed = true;
                    return None;
                }
            };
            self.reader.consume(used);
            if done {
                if used == 0 && self.buf.is_empty() && !truncated {
                    return None;
                }
                break;
            }
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        self.number += 1;
        Some(Line {
            number: self.number,
            bytes: &self.buf,
            truncated,
        })
    }
}

fn keep(buf: &mut Vec<u8>, bytes: &[u8], truncated: &mut bool) {
    let room = MAX_LINE.saturating_sub(buf.len());
    if bytes.len() > room {
        *truncated = true;
    }
    buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// The lines of `data` as [`split_lines`] gives them, each with its text
/// when it is valid UTF-8. The whole of `data` is checked at once (lines
/// end at a byte that is ASCII, so a valid `data` has valid lines), and
/// line by line only when that fails.
pub(crate) fn split_text_lines(data: &[u8]) -> impl Iterator<Item = (&[u8], Option<&str>)> {
    let all = std::str::from_utf8(data).ok();
    split_lines(data).map(move |line| {
        let text = match all {
            Some(all) => {
                let start = line.as_ptr() as usize - data.as_ptr() as usize;
                all.get(start..start + line.len())
            }
            None => std::str::from_utf8(line).ok(),
        };
        (line, text)
    })
}

/// The lines of `data` (each without its `\n`; a final line without one
/// counts), with their index from 0.
pub(crate) fn split_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, next) = match find_byte(rest, b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        Some(line)
    })
}

/// How many lines [`split_lines`] finds in `data`.
pub(crate) fn line_count(data: &[u8]) -> usize {
    count_byte(data, b'\n') + usize::from(data.last().is_some_and(|&b| b != b'\n'))
}

/// What [`Chunker::next`] hands out.
pub(crate) enum Piece {
    /// Whole lines: every one ends with `\n` except perhaps the last line
    /// of the input. The first is line `first`.
    Lines { first: usize, data: Vec<u8> },
    /// Line `line` is longer than [`MAX_LINE`] (its bytes are dropped).
    TooLong { line: usize },
    /// The input could not be read after line `line - 1`; nothing follows.
    Error { line: usize, error: std::io::Error },
}

/// An input cut into pieces of whole lines of about [`CHUNK`] bytes, so
/// that the lines can be read on several threads while line numbers stay
/// exact. The lines are the ones [`Lines`] finds. A line longer than
/// [`MAX_LINE`] is handed out whole in a piece only while it is at most a
/// byte longer (the reader of the piece checks with [`too_long`]);
/// otherwise it is dropped as it is read and reported as
/// [`Piece::TooLong`]. Memory stays within a piece, a line and a read
/// buffer.
pub(crate) struct Chunker {
    reader: Source,
    /// The size a piece is cut at: [`CHUNK`], but for tests.
    piece: usize,
    /// The start of a line read after the last piece.
    carry: Vec<u8>,
    /// Lines handed out so far.
    lines: usize,
    /// A read error to hand out after the lines read before it.
    error: Option<std::io::Error>,
    done: bool,
}

/// The size a piece of lines is cut at (the first line end after it).
pub(crate) const CHUNK: usize = 256 << 10;

/// True when a line (without its `\n`) is longer than [`Lines`] keeps whole.
pub(crate) fn too_long(line: &[u8]) -> bool {
    line.len() > MAX_LINE
}

impl Chunker {
    /// A chunker that cuts pieces at the first line end after `piece` bytes.
    pub(crate) fn with_piece_size(reader: Source, piece: usize) -> Chunker {
        Chunker {
            reader,
            piece,
            carry: Vec::new(),
            lines: 0,
            error: None,
            done: false,
        }
    }

    /// The next piece; its lines are put in `data` (a recycled buffer,
    /// cleared here).
    pub(crate) fn next(&mut self, mut data: Vec<u8>) -> Option<Piece> {
        if let Some(error) = self.error.take() {
            return Some(Piece::Error {
                line: self.lines + 1,
                error,
            });
        }
        if self.done {
            return None;
        }
        data.clear();
        data.append(&mut self.carry);
        // Just after the last `\n` in `data`, and how far it was searched.
        let mut end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut searched = data.len();
        loop {
            let partial = data.len() - end;
            if end > 0 && (data.len() >= self.piece || partial > MAX_LINE + 1) {
                // Whole lines; the start of the next is kept for later.
                self.carry.extend_from_slice(&data[end..]);
                data.truncate(end);
                return Some(self.piece(data));
            }
            if partial > MAX_LINE + 1 {
                return Some(self.skip_long_line());
            }
            let chunk = match self.reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    // The lines read before, then the error; a partial line is lost.
                    self.done = true;
                    data.truncate(end);
                    if data.is_empty() {
                        return Some(Piece::Error {
                            line: self.lines + 1,
                            error,
                        });
                    }
                    self.error = Some(error);
                    return Some(self.piece(data));
                }
            };
            if chunk.is_empty() {
                self.done = true;
                return (!data.is_empty()).then(|| self.piece(data));
            }
            let n = chunk.len();
            data.extend_from_slice(chunk);
            self.reader.consume(n);
            if let Some(i) = data[searched..].iter().rposition(|&b| b == b'\n') {
                end = searched + i + 1;
            }
            searched = data.len();
        }
    }

    fn piece(&mut self, data: Vec<u8>) -> Piece {
        let first = self.lines + 1;
        self.lines += line_count(&data);
        Piece::Lines { first, data }
    }

    /// Reads up to the end of the line being read (already too long) and drops it.
    fn skip_long_line(&mut self) -> Piece {
        loop {
            let (found, used) = match self.reader.fill_buf() {
                Ok([]) => (true, 0),
                Ok(chunk) => match find_byte(chunk, b'\n') {
                    Some(i) => (true, i + 1),
                    None => (false, chunk.len()),
                },
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    self.done = true;
                    return Piece::Error {
                        line: self.lines + 1,
                        error,
                    };
                }
            };
            self.reader.consume(used);
            if found {
                self.lines += 1;
                return Piece::TooLong { line: self.lines };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::Rng;
    use super::*;

    /// A reader whose every read fails.
    struct Broken;

    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("device gone"))
        }
    }

    #[test]
    fn a_persistent_read_error_is_reported_once_and_ends_the_input() {
        let mut lines = Lines::new(Box::new(std::io::BufReader::new(Broken)));
        assert!(lines.next_line().is_none());
        assert_eq!(
            lines.error.take().map(|e| e.to_string()).as_deref(),
            Some("device gone")
        );
        assert!(lines.next_line().is_none());
        assert!(lines.error.is_none());
        // The readers built on it report one bad record, then stop.
        let input = super::super::Input::from_reader(
            std::io::BufReader::new(Broken),
            "broken.jsonl",
            super::super::InputFormat::Jsonl,
        );
        let items: Vec<_> = input
            .map(|i| i.items().take(3).collect())
            .unwrap_or_default();
        assert_eq!(items.len(), 1, "{items:?}");
        assert!(
            matches!(&items[0], super::super::Item::Bad(b) if b.message == "cannot read: device gone"),
            "{items:?}"
        );
    }

    /// The lines as [`Lines`] reads them: number, bytes (none when too long).
    fn by_lines(data: &[u8]) -> Vec<(usize, Option<Vec<u8>>)> {
        let mut lines = Lines::new(Box::new(std::io::Cursor::new(data.to_vec())));
        let mut out = Vec::new();
        while let Some(line) = lines.next_line() {
            let bytes = (!line.truncated).then(|| line.bytes.to_vec());
            out.push((line.number, bytes));
        }
        out
    }

    /// The same from the pieces of a [`Chunker`], read through a small buffer.
    fn by_pieces(data: &[u8]) -> Vec<(usize, Option<Vec<u8>>)> {
        let reader = std::io::BufReader::with_capacity(1000, std::io::Cursor::new(data.to_vec()));
        let mut chunker = Chunker::with_piece_size(Box::new(reader), CHUNK);
        let mut out = Vec::new();
        while let Some(piece) = chunker.next(Vec::new()) {
            match piece {
                Piece::Lines { first, data } => {
                    assert!(!data.is_empty());
                    for (i, line) in split_lines(&data).enumerate() {
                        let bytes = (!too_long(line))
                            .then(|| line.strip_suffix(b"\r").unwrap_or(line).to_vec());
                        out.push((first + i, bytes));
                    }
                }
                Piece::TooLong { line } => out.push((line, None)),
                Piece::Error { error, .. } => panic!("{error}"),
            }
        }
        out
    }

    #[test]
    fn pieces_hold_the_lines_of_the_input() {
        let mut rng = Rng(42);
        for round in 0..40 {
            let mut data = Vec::new();
            let lines = 1 + rng.below(800);
            for _ in 0..lines {
                let len = match rng.below(10) {
                    0 => 0,
                    1 => rng.below(5000),
                    _ => rng.below(300),
                };
                data.extend((0..len).map(|_| b"ab \r,"[rng.below(5)]));
                if rng.below(4) == 0 {
                    data.push(b'\r');
                }
                data.push(b'\n');
            }
            if round % 2 == 0 {
                // A last line without a line break.
                data.extend_from_slice(b"last");
            }
            assert_eq!(by_pieces(&data), by_lines(&data), "round {round}");
        }
    }

    #[test]
    fn lines_around_the_longest_kept_whole() {
        for len in [
            MAX_LINE - 1,
            MAX_LINE,
            MAX_LINE + 1,
            MAX_LINE + 2,
            3 * MAX_LINE,
        ] {
            for cr in [false, true] {
                for tail in [false, true] {
                    let mut data = b"first\n".to_vec();
                    data.resize(data.len() + len, b'x');
                    if cr {
                        data.push(b'\r');
                    }
                    if tail {
                        data.extend_from_slice(b"\nafter\n");
                    }
                    assert_eq!(
                        by_pieces(&data),
                        by_lines(&data),
                        "len {len}, cr {cr}, tail {tail}"
                    );
                }
            }
        }
    }

    #[test]
    fn empty_input_has_no_pieces() {
        assert!(by_pieces(b"").is_empty());
        assert_eq!(by_pieces(b"\n"), vec![(1, Some(Vec::new()))]);
    }
}
