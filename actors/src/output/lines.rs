//! Splitting a byte stream into lines: a line ends at `\n` or at the length cap (a longer line
//! is split into parts); what is left without a newline is a last line of its own at the end.

use serde::{Deserialize, Serialize};

/// The longest line kept whole, in bytes; a longer one is split.
pub const MAX_LINE: usize = 16 * 1024;

/// A line under way, handed from one splitter (daemon) to the next.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partial {
    /// The line's bytes read so far (no newline yet).
    pub bytes: Vec<u8>,
    /// The previous line was cut at [`MAX_LINE`]: a newline first ends that line.
    pub cut: bool,
}

/// Accumulates bytes and hands out complete lines (without their newline).
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// The last line handed out was cut at the cap: a newline right after it ends that line,
    /// not an empty one.
    cut: bool,
}

impl LineSplitter {
    /// Feeds `bytes`; calls `line` for each complete line.
    pub fn push(&mut self, mut bytes: &[u8], mut line: impl FnMut(&[u8])) {
        if self.cut && !bytes.is_empty() {
            self.cut = false;
            if bytes[0] == b'\n' {
                bytes = &bytes[1..];
            }
        }
        while !bytes.is_empty() {
            let room = MAX_LINE - self.partial.len();
            let window = &bytes[..bytes.len().min(room)];
            match window.iter().position(|&b| b == b'\n') {
                Some(end) if self.partial.is_empty() => {
                    line(&window[..end]);
                    bytes = &bytes[end + 1..];
                }
                Some(end) => {
                    self.partial.extend_from_slice(&window[..end]);
                    line(&self.partial);
                    self.release();
                    bytes = &bytes[end + 1..];
                }
                None => {
                    self.partial.extend_from_slice(window);
                    bytes = &bytes[window.len()..];
                    if self.partial.len() == MAX_LINE {
                        line(&self.partial);
                        self.release();
                        match bytes.first() {
                            Some(b'\n') => bytes = &bytes[1..],
                            Some(_) => {}
                            None => self.cut = true,
                        }
                    }
                }
            }
        }
    }

    /// Empties the partial line, giving back a large buffer (idle components stay small).
    fn release(&mut self) {
        if self.partial.capacity() > 1024 {
            self.partial = Vec::new();
        } else {
            self.partial.clear();
        }
    }

    /// The bytes of the line under way and whether the last line was cut at the cap: what a
    /// hand-over gives the successor's splitter.
    pub fn partial(&self) -> Partial {
        Partial {
            bytes: self.partial.clone(),
            cut: self.cut,
        }
    }

    /// A splitter that goes on from `partial` (a predecessor's [`LineSplitter::partial`]).
    pub fn resumed(partial: Partial) -> Self {
        LineSplitter {
            partial: partial.bytes,
            cut: partial.cut,
        }
    }

    /// The line under way as a last line of its own (the stream ended without a newline, or
    /// its writer did), if there is one; the splitter goes on empty.
    pub fn take_last(&mut self) -> Option<Vec<u8>> {
        self.cut = false;
        (!self.partial.is_empty()).then(|| std::mem::take(&mut self.partial))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, |line| lines.push(line.to_vec()));
        }
        lines.extend(splitter.take_last());
        lines
    }

    #[test]
    fn lines_across_chunks_are_joined() {
        assert_eq!(
            split(&[b"a\nb", b"c\n", b"\nd"]),
            [&b"a"[..], b"bc", b"", b"d"]
        );
    }

    #[test]
    fn a_long_line_is_split_at_the_cap() {
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let mut input = long.clone();
        input.push(b'\n');
        let lines = split(&[&input[..100], &input[100..]]);
        assert_eq!(lines.len(), 3);
        assert!(lines[..2].iter().all(|l| l.len() == MAX_LINE));
        assert_eq!(lines[2].len(), 10);
        assert_eq!(lines.concat(), long);
    }

    #[test]
    fn a_line_of_exactly_the_cap_is_one_line() {
        let mut input = vec![b'y'; MAX_LINE];
        input.push(b'\n');
        input.extend_from_slice(b"next\n");
        assert_eq!(split(&[&input]), [vec![b'y'; MAX_LINE], b"next".to_vec()]);
        // The newline may also come in the next chunk.
        let lines = split(&[&input[..MAX_LINE], &input[MAX_LINE..]]);
        assert_eq!(lines, [vec![b'y'; MAX_LINE], b"next".to_vec()]);
        let two = vec![b'z'; MAX_LINE * 2];
        assert_eq!(split(&[&two, b"\n"]).len(), 2);
    }

    /// A line split across a hand-over is one line: the successor goes on from the partial
    /// bytes, and from a cut at the cap.
    #[test]
    fn a_resumed_splitter_goes_on_where_the_first_stopped() {
        let mut first = LineSplitter::default();
        let mut lines = Vec::new();
        first.push(b"one\ntw", |line| lines.push(line.to_vec()));
        let mut second = LineSplitter::resumed(first.partial());
        second.push(b"o\nthree\n", |line| lines.push(line.to_vec()));
        assert_eq!(lines, [&b"one"[..], b"two", b"three"]);

        let mut cut = LineSplitter::default();
        cut.push(&vec![b'x'; MAX_LINE], |_| {});
        let mut after = LineSplitter::resumed(cut.partial());
        let mut rest = Vec::new();
        after.push(b"\nnext\n", |line| rest.push(line.to_vec()));
        assert_eq!(rest, [b"next".to_vec()], "the newline ends the cut line");
    }

    #[test]
    fn a_partial_last_line_is_kept() {
        assert_eq!(split(&[b"one\ntwo"]), [&b"one"[..], b"two"]);
        assert!(split(&[b""]).is_empty());
    }
}
