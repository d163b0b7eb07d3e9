//! Reading an input line by line, with line numbers.

use std::io::BufRead;

use super::Source;

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
        }
    }

    /// How many lines were read.
    pub(crate) fn number(&self) -> usize {
        self.number
    }

    /// The next line, or `None` at the end of the input or on a read error
    /// (kept in [`Lines::error`]).
    pub(crate) fn next_line(&mut self) -> Option<Line<'_>> {
        if self.error.is_some() {
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
