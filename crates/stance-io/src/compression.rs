//! Gzip-compressed inputs, read as if they were not compressed.
//!
//! A file is decompressed when it starts with the gzip magic bytes, whatever
//! its name; its format comes from its name without `.gz` (`a.jsonl.gz` is
//! JSONL). Concatenated gzip members (as `cat a.gz b.gz` makes) are read in
//! turn. Line numbers and byte offsets in messages count in the
//! decompressed text.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::IoError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `bytes` start as a gzip stream does.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Whether the file at `path` is gzip-compressed (false if it cannot be read:
/// the caller's own read reports that).
pub(crate) fn file_is_gzip(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| is_gzip(&magic))
}

/// `path` without a final `.gz` (any case), for telling formats and ids.
pub(crate) fn without_gz(path: &Path) -> Cow<'_, Path> {
    match path.extension() {
        Some(ext) if ext.eq_ignore_ascii_case("gz") => Cow::Owned(path.with_extension("")),
        _ => Cow::Borrowed(path),
    }
}

/// The file's contents, decompressed when they are gzip.
pub(crate) fn open(path: &Path) -> Result<Box<dyn Read + Send>, IoError> {
    let compressed = file_is_gzip(path);
    let file = File::open(path).map_err(|e| IoError::io(path, e))?;
    Ok(if compressed {
        Box::new(Gunzip(MultiGzDecoder::new(BufReader::new(file))))
    } else {
        Box::new(file)
    })
}

/// A gzip decoder whose errors say that decompressing failed.
struct Gunzip<R: io::BufRead>(MultiGzDecoder<R>);

impl<R: io::BufRead> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(gzip_error)
    }
}

/// `bytes`, decompressed when they are gzip; a corrupt or truncated stream
/// is an error naming `path`.
pub(crate) fn decompressed(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>, IoError> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 4);
    Gunzip(MultiGzDecoder::new(&bytes[..]))
        .read_to_end(&mut out)
        .map_err(|e| IoError::io(path, e))?;
    Ok(out)
}

/// Names what went wrong as a gzip problem.
fn gzip_error(err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("cannot decompress (gzip): {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_is_told_by_its_magic_bytes_and_looked_through_by_name() {
        assert!(is_gzip(&gzip(b"x")));
        assert!(!is_gzip(b"\x1f"));
        assert!(!is_gzip(b"{\"text\": 1}"));
        assert_eq!(
            without_gz(Path::new("a/b.jsonl.gz")),
            Path::new("a/b.jsonl")
        );
        assert_eq!(without_gz(Path::new("b.JSONL.GZ")), Path::new("b.JSONL"));
        assert_eq!(without_gz(Path::new("b.jsonl")), Path::new("b.jsonl"));
        assert_eq!(without_gz(Path::new("gz")), Path::new("gz"));
    }

    #[test]
    fn members_are_read_in_turn_and_plain_bytes_pass_through() {
        let path = Path::new("x.txt.gz");
        let mut two = gzip(b"first\n");
        two.extend(gzip(b"second\n"));
        assert_eq!(decompressed(two, path).unwrap(), b"first\nsecond\n");
        assert_eq!(decompressed(b"plain".to_vec(), path).unwrap(), b"plain");
    }

    #[test]
    fn a_truncated_stream_is_an_error_naming_the_file() {
        let whole = gzip("The ministers met in Tokyo. ".repeat(50).as_bytes());
        let err = decompressed(whole[..whole.len() / 2].to_vec(), Path::new("cut.jsonl.gz"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cut.jsonl.gz: cannot decompress (gzip)"),
            "{err}"
        );
    }
}
