//! Secrets out of everything the process prints: the password of any URL in a line becomes `***`
//! (`postgres://user:***@host/db`). Every log line passes through [`Redacting`], whatever crate
//! wrote it and at whatever level (SeaORM's trace spans carry the whole database URL), and so do
//! the errors the binary prints.

use std::{borrow::Cow, io};

/// `text` with the password of every `scheme://user:password@host` in it replaced by `***`.
pub fn url_passwords(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("://") {
        let start = search + found + 3;
        // The authority ends where a path, query, fragment or the surrounding text begins.
        let end = text[start..]
            .find(|c: char| "/?#\"'<>()[]{},;".contains(c) || c.is_whitespace())
            .map_or(text.len(), |i| start + i);
        let authority = &text[start..end];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
            && colon + 1 < at
        {
            out.push_str(&text[copied..start + colon + 1]);
            out.push_str("***");
            copied = start + at;
        }
        search = end.max(start);
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// A writer that redacts what passes through it (see [`url_passwords`]). tracing's formatter
/// writes each event in one call, so a URL is never split between two writes.
#[derive(Debug)]
pub struct Redacting<W>(pub W);

impl<W: io::Write> io::Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(url_passwords(text).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_go_and_everything_else_stays() {
        for (text, redacted) in [
            (
                "url: \"postgres://u:secret@db.example:5432/pnodes\", max: 10",
                "url: \"postgres://u:***@db.example:5432/pnodes\", max: 10",
            ),
            (
                "a postgres://u:p@h/x and http://k:v@h?x",
                "a postgres://u:***@h/x and http://k:***@h?x",
            ),
            (
                "no secret: postgres://postgres@127.0.0.1/db",
                "no secret: postgres://postgres@127.0.0.1/db",
            ),
            ("sqlite://pnodes.db?mode=rwc", "sqlite://pnodes.db?mode=rwc"),
            ("http://host:6000/rpc", "http://host:6000/rpc"),
            ("x://u:p@ss@host/db", "x://u:***@host/db"),
            ("ends with ://", "ends with ://"),
        ] {
            assert_eq!(url_passwords(text), redacted, "{text}");
        }
    }

    #[test]
    fn the_writer_redacts_what_it_writes() {
        let mut out = Redacting(Vec::new());
        io::Write::write_all(&mut out, b"postgres://u:secret@h/db\n").expect("write");
        assert_eq!(out.0, b"postgres://u:***@h/db\n");
    }
}
