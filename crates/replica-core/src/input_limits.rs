//! Limits that keep the reading of input files bounded in time and in the size of its messages:
//! only regular files are opened (a FIFO or a device would block or never end), files above a
//! stated size are refused before they are read, quoted input is cut to a few hundred
//! characters, and a spec has at most [`MAX_LAYERS`] layers.

use std::io::Read;
use std::path::Path;

/// Largest spec file read, in bytes. A spec of [`MAX_LAYERS`] layers with every key written and
/// a weight table on each is about 200 KB; the limit leaves a factor 5.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

/// Largest spectrum file read, in bytes: about 3 million eigenvalues written with 20 characters
/// a line. (The solver averages over the spectrum at every sweep; a larger spectrum would be
/// slow to solve long before it is slow to read.)
pub const MAX_SPECTRUM_BYTES: u64 = 64 << 20;

/// Most layers a spec may have. The solver's work grows with the depth (one sweep visits every
/// layer, and there are `L + 1` starts); 1000 is far beyond any network of the paper or of the
/// figures (at most 10 layers) and still solves in seconds when the layers are linear.
pub const MAX_LAYERS: usize = 1000;

/// Most characters of an offending line (or value) quoted in an error message.
pub const MAX_QUOTED_CHARS: usize = 200;

/// `s` cut to [`MAX_QUOTED_CHARS`] characters, with the length said when it was cut.
pub fn excerpt(s: &str) -> String {
    let n = s.chars().count();
    if n <= MAX_QUOTED_CHARS {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX_QUOTED_CHARS).collect();
        format!("{head}... ({n} characters in all)")
    }
}

/// The text of a regular file of at most `limit` bytes. Refused at once, before any blocking
/// open: anything that is not a regular file (FIFO, socket, device, directory), and a file
/// larger than `limit`; a file that grows past `limit` while being read is refused too. The
/// checks use `stat`, which does not open the file (a file swapped for a FIFO between the check
/// and the open is the one case left).
pub fn read_regular_file(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind};
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, socket or device?)"
        };
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("it is {what}; a regular file is expected"),
        ));
    }
    let too_big = |len: u64| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("it has {len} bytes, over the limit of {limit} bytes"),
        )
    };
    if meta.len() > limit {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// A one-line message for a TOML error in `text`: its line and column, the offending line cut to
/// [`MAX_QUOTED_CHARS`] characters, and the parser's message, also cut.
pub fn toml_error_message(text: &str, e: &toml::de::Error) -> String {
    let message = excerpt(&e.message().replace('\n', " "));
    match e.span() {
        Some(span) => {
            let start = span.start.min(text.len());
            let before = &text[..floor_char_boundary(text, start)];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |k| k + 1);
            let column = before[line_start..].chars().count() + 1;
            let line_text = text[line_start..].lines().next().unwrap_or("");
            format!(
                "TOML error at line {line}, column {column}: {message} (line {line}: `{}`)",
                excerpt(line_text)
            )
        }
        None => format!("TOML error: {message}"),
    }
}

fn floor_char_boundary(s: &str, mut k: usize) -> usize {
    while k > 0 && !s.is_char_boundary(k) {
        k -= 1;
    }
    k
}

/// The first numeric field of a spec that holds a string (`alpha = "inf"`), as
/// `(field, value)`; `None` when every numeric field present is a number (or `text` is not TOML).
/// The serde error of such a field names its type but not the field.
pub fn string_for_number(text: &str) -> Option<(String, String)> {
    let doc: toml::Table = text.parse().ok()?;
    let non_number =
        |v: &toml::Value| !matches!(v, toml::Value::Float(_) | toml::Value::Integer(_));
    let check = |table: &toml::Table, prefix: &str, keys: &[&str]| {
        keys.iter().find_map(|k| {
            table
                .get(*k)
                .filter(|v| non_number(v))
                .map(|v| (format!("{prefix}{k}"), excerpt(&v.to_string())))
        })
    };
    if let Some(prior) = doc.get("prior").and_then(|p| p.as_table()) {
        if let Some(hit) = check(prior, "prior.", &["mean", "var", "p"]) {
            return Some(hit);
        }
    }
    let layers = doc.get("layers").and_then(|l| l.as_array())?;
    layers.iter().enumerate().find_map(|(i, l)| {
        let l = l.as_table()?;
        let prefix = format!("layers[{i}].");
        check(l, &prefix, &["alpha", "noise_var", "slope", "threshold"]).or_else(|| {
            let w = l.get("weights")?.as_table()?;
            check(w, &format!("{prefix}weights."), &["var", "scale"])
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_cut() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "x".repeat(10_000);
        let e = excerpt(&long);
        assert!(
            e.len() < 250 && e.ends_with("(10000 characters in all)"),
            "{e}"
        );
    }

    #[test]
    fn toml_errors_are_one_short_line() {
        let text = format!(
            "[prior]\nkind = \"gaussian\"\nvar = {}\n",
            "1".repeat(100_000) + "x"
        );
        let e = toml::from_str::<toml::Table>(&text).unwrap_err();
        let m = toml_error_message(&text, &e);
        assert!(
            !m.contains('\n') && m.len() < 700,
            "{} chars: {m:.300}",
            m.len()
        );
        assert!(m.contains("line 3"), "{m}");
    }

    #[test]
    fn strings_for_numbers_name_the_field() {
        let t = "[prior]\nkind = \"gaussian\"\nvar = 1.0\nmean = \"nan\"\n";
        assert_eq!(
            string_for_number(t),
            Some(("prior.mean".into(), "\"nan\"".into()))
        );
        let t = "[prior]\nkind = \"gaussian\"\nvar = 1.0\n[[layers]]\nalpha = 1.0\n\
                 [[layers]]\nalpha = 2\nnoise_var = \"inf\"\n";
        assert_eq!(
            string_for_number(t),
            Some(("layers[1].noise_var".into(), "\"inf\"".into()))
        );
        let t = "[prior]\nkind = \"gaussian\"\n[[layers]]\nweights = { kind = \"gaussian\", var = \"1\" }\n";
        assert_eq!(
            string_for_number(t).map(|x| x.0),
            Some("layers[0].weights.var".into())
        );
        assert_eq!(string_for_number("[prior]\nvar = 1e-3\n"), None);
    }

    #[test]
    fn only_small_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_regular_file(dir.path(), 100).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        let f = dir.path().join("a.toml");
        std::fs::write(&f, "x".repeat(101)).unwrap();
        let e = read_regular_file(&f, 100).unwrap_err();
        assert!(e.to_string().contains("101 bytes"), "{e}");
        assert_eq!(read_regular_file(&f, 101).unwrap().len(), 101);
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo");
            let ok = std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "mkfifo is needed for this test");
            let e = read_regular_file(&fifo, 100).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
    }
}
