//! UTF-16 text (as Windows editors save "Unicode" text), told by its
//! byte-order mark and decoded to UTF-8.

/// Byte order of UTF-16 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Utf16 {
    Little,
    Big,
}

impl Utf16 {
    /// Bytes of the byte-order mark.
    pub(crate) const BOM_LEN: usize = 2;

    /// The byte order announced by a UTF-16 byte-order mark at the start of
    /// `bytes` (FF FE: little-endian, FE FF: big-endian). Neither byte can
    /// start UTF-8 text, so UTF-8 files are never taken for UTF-16.
    pub(crate) fn from_bom(bytes: &[u8]) -> Option<Utf16> {
        match bytes {
            [0xFF, 0xFE, ..] => Some(Utf16::Little),
            [0xFE, 0xFF, ..] => Some(Utf16::Big),
            _ => None,
        }
    }

    fn unit(self, pair: [u8; 2]) -> u16 {
        match self {
            Utf16::Little => u16::from_le_bytes(pair),
            Utf16::Big => u16::from_be_bytes(pair),
        }
    }

    /// Decodes the UTF-16 at the start of `bytes` (no byte-order mark),
    /// appending it to `out` as UTF-8, and returns how many bytes it used.
    /// Unless `at_end`, it stops before an incomplete code unit or a high
    /// surrogate whose partner is not in `bytes` yet, for the caller to
    /// supply more. An unpaired surrogate, or an odd byte at the end, becomes
    /// U+FFFD when `lossy`; otherwise decoding stops there with
    /// `Err(its byte index)`.
    pub(crate) fn decode(
        self,
        bytes: &[u8],
        at_end: bool,
        lossy: bool,
        out: &mut Vec<u8>,
    ) -> Result<usize, usize> {
        let unit = |i: usize| self.unit([bytes[i], bytes[i + 1]]);
        let mut i = 0;
        while i + 1 < bytes.len() {
            let first = unit(i);
            let (decoded, len) = match first {
                0xD800..=0xDBFF if i + 3 < bytes.len() => match unit(i + 2) {
                    low @ 0xDC00..=0xDFFF => {
                        let high = u32::from(first - 0xD800) << 10;
                        (
                            char::from_u32(0x10000 + (high | u32::from(low - 0xDC00))),
                            4,
                        )
                    }
                    _ => (None, 2),
                },
                0xD800..=0xDBFF if !at_end => break,
                0xD800..=0xDFFF => (None, 2),
                _ => (char::from_u32(u32::from(first)), 2),
            };
            let c = match decoded {
                Some(c) => c,
                None if lossy => char::REPLACEMENT_CHARACTER,
                None => return Err(i),
            };
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            i += len;
        }
        if at_end && i < bytes.len() {
            if !lossy {
                return Err(i);
            }
            out.extend_from_slice(char::REPLACEMENT_CHARACTER.to_string().as_bytes());
            i = bytes.len();
        }
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(text: &str, order: Utf16) -> Vec<u8> {
        text.encode_utf16()
            .flat_map(|u| match order {
                Utf16::Little => u.to_le_bytes(),
                Utf16::Big => u.to_be_bytes(),
            })
            .collect()
    }

    fn decode_all(bytes: &[u8], order: Utf16, lossy: bool) -> Result<String, usize> {
        let mut out = Vec::new();
        order.decode(bytes, true, lossy, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    const TEXT: &str = "We condemn the attack. Nous condamnons l’attaque 🇺🇦 — 我们谴责.";

    #[test]
    fn byte_order_marks_are_told_apart_from_utf8() {
        assert_eq!(Utf16::from_bom(b"\xFF\xFEW\0"), Some(Utf16::Little));
        assert_eq!(Utf16::from_bom(b"\xFE\xFF\0W"), Some(Utf16::Big));
        assert_eq!(Utf16::from_bom(b"\xEF\xBB\xBFWe"), None);
        assert_eq!(Utf16::from_bom(b"We"), None);
        assert_eq!(Utf16::from_bom(b"\xFF"), None);
    }

    #[test]
    fn decodes_both_byte_orders_with_surrogate_pairs() {
        for order in [Utf16::Little, Utf16::Big] {
            assert_eq!(
                decode_all(&encode(TEXT, order), order, false).unwrap(),
                TEXT
            );
        }
    }

    #[test]
    fn a_pair_split_between_reads_waits_for_its_second_half() {
        let bytes = encode("a🇺b", Utf16::Little);
        // "a", then the high surrogate of 🇺 and one byte of its low half.
        let mut out = Vec::new();
        assert_eq!(
            Utf16::Little.decode(&bytes[..5], false, false, &mut out),
            Ok(2)
        );
        assert_eq!(out, b"a");
        let used = Utf16::Little
            .decode(&bytes[2..], false, false, &mut out)
            .unwrap();
        assert_eq!(used, bytes.len() - 2);
        assert_eq!(String::from_utf8(out).unwrap(), "a🇺b");
    }

    #[test]
    fn unpaired_surrogates_and_odd_bytes_are_errors_unless_lossy() {
        let mut bytes = encode("ab", Utf16::Little);
        bytes.splice(2..2, 0xDC00u16.to_le_bytes()); // a lone low surrogate
        assert_eq!(decode_all(&bytes, Utf16::Little, false), Err(2));
        assert_eq!(
            decode_all(&bytes, Utf16::Little, true).unwrap(),
            "a\u{FFFD}b"
        );

        let mut bytes = encode("ab", Utf16::Big);
        bytes.extend_from_slice(&0xD800u16.to_be_bytes()); // a high surrogate at the end
        assert_eq!(decode_all(&bytes, Utf16::Big, false), Err(4));
        assert_eq!(decode_all(&bytes, Utf16::Big, true).unwrap(), "ab\u{FFFD}");

        let mut bytes = encode("ab", Utf16::Little);
        bytes.push(b'c');
        assert_eq!(decode_all(&bytes, Utf16::Little, false), Err(4));
        assert_eq!(
            decode_all(&bytes, Utf16::Little, true).unwrap(),
            "ab\u{FFFD}"
        );
    }
}
