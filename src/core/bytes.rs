//! Byte searches every reader and the normalizer share, on `memchr`'s
//! vectorized routines.

/// The first `needle` in `hay`.
#[inline]
pub fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    memchr::memchr(needle, hay)
}

/// The first of three bytes in `hay`.
#[inline]
pub fn find_any3(hay: &[u8], a: u8, b: u8, c: u8) -> Option<usize> {
    memchr::memchr3(a, b, c, hay)
}

/// Gives `f` the position of each `needle` in `hay`, in order, until `f`
/// returns false.
#[inline]
pub fn each_byte(hay: &[u8], needle: u8, mut f: impl FnMut(usize) -> bool) {
    for i in memchr::memchr_iter(needle, hay) {
        if !f(i) {
            return;
        }
    }
}

/// How many times `needle` occurs in `hay`.
#[inline]
pub fn count_byte(hay: &[u8], needle: u8) -> usize {
    memchr::memchr_iter(needle, hay).count()
}

/// `s.trim()`, quick when `s` starts and ends with printable ASCII.
#[inline]
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&a), Some(&b)) if a > b' ' && a < 0x80 && b > b' ' && b < 0x80 => s,
        _ => s.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_agree_with_a_byte_by_byte_search() {
        let alphabet = b"ab,\"\\\r\n\x01 \xc3\xa9.";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 70) as usize;
            let hay: Vec<u8> = (0..len)
                .map(|i| alphabet[((seed >> (i % 50)) as usize + i) % alphabet.len()])
                .collect();
            for &needle in b",\n\".a" {
                let want: Vec<usize> = (0..hay.len()).filter(|&i| hay[i] == needle).collect();
                assert_eq!(find_byte(&hay, needle), want.first().copied(), "{hay:?}");
                assert_eq!(count_byte(&hay, needle), want.len(), "{hay:?}");
                let mut got = Vec::new();
                each_byte(&hay, needle, |i| {
                    got.push(i);
                    got.len() < 2
                });
                assert_eq!(got, want.iter().copied().take(2).collect::<Vec<_>>());
            }
            let want = hay
                .iter()
                .position(|&b| b == b',' || b == b'\r' || b == b'\n');
            assert_eq!(find_any3(&hay, b',', b'\r', b'\n'), want, "{hay:?}");
        }
    }

    #[test]
    fn trims_as_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{a0}a",
            "a\u{2003}",
            "\ta b\r",
            "é",
            "x\u{85}",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }
}
