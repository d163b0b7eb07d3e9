//! Byte searches every reader, the normalizer and the output writers
//! share: on `memchr`'s vectorized routines, and one word-at-a-time search
//! for what a JSON string must escape (a set `memchr` cannot search for).

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

/// How many times `needle` occurs in `hay`.
#[inline]
pub fn count_byte(hay: &[u8], needle: u8) -> usize {
    memchr::memchr_iter(needle, hay).count()
}

/// True when `b` ends a JSON string or must be escaped in one: `"`, `\`
/// or a control character.
#[inline]
fn is_json_special(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Zero exactly when `b` is [`is_json_special`], computed without
/// comparisons (which the compiler turns into branches or table lookups),
/// so that a test of many bytes becomes vector instructions.
#[inline]
fn json_special_key(b: u8) -> u8 {
    b.saturating_sub(0x1f).min(b ^ b'"').min(b ^ b'\\')
}

const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const ONES: u64 = 0x0101_0101_0101_0101;

/// 0x80 in each byte of `x` (little-endian) that is [`is_json_special`],
/// and nothing else (no carries between bytes, so exact).
#[inline]
fn json_special_mask(x: u64) -> u64 {
    // Flipping bit 1 makes `"` 0x20 and leaves the control characters
    // below 0x20, and nothing else below 0x21.
    let y = x ^ (ONES * 2);
    let below = !(((y & LOW) + ONES * u64::from(0x80 - 0x21u8)) | y | LOW);
    let t = x ^ (ONES * u64::from(b'\\'));
    let backslash = !(((t & LOW) + LOW) | t | LOW);
    below | backslash
}

/// The eight bytes at the start of `bytes` as a little-endian word (zeros
/// past its end).
#[inline]
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = bytes.len().min(8);
    w[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(w)
}

/// The first `"`, `\` or control character in `bytes`: where a JSON
/// string ends or needs decoding (reading) or escaping (writing).
///
/// Blocks of 16 bytes are tested at once, then the one with a match (or
/// the end) eight bytes at a time, the end as a whole word that overlaps
/// the one before, so that bytes are not looked at one by one.
#[inline]
pub fn find_json_special(bytes: &[u8]) -> Option<usize> {
    let n = bytes.len();
    let mut at = 0;
    while let Some(block) = bytes
        .get(at..at + 16)
        .and_then(|b| <&[u8; 16]>::try_from(b).ok())
    {
        let mut any = 0u8;
        for &b in block {
            any |= u8::from(json_special_key(b) == 0);
        }
        if any != 0 {
            break;
        }
        at += 16;
    }
    while at + 8 <= n {
        let m = json_special_mask(word(&bytes[at..]));
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    if at == n {
        return None;
    }
    if n >= 8 {
        // The bytes before `at` are not special.
        let m = json_special_mask(word(&bytes[n - 8..]));
        return (m != 0).then(|| n - 8 + (m.trailing_zeros() / 8) as usize);
    }
    bytes.iter().position(|&b| is_json_special(b))
}

/// [`find_json_special`] for a byte that is likely among the first eight
/// (the end of a short string, a key): those are tested first as one word.
#[inline]
pub(crate) fn find_json_special_near(bytes: &[u8]) -> Option<usize> {
    if bytes.len() >= 8 {
        let m = json_special_mask(word(bytes));
        if m != 0 {
            return Some((m.trailing_zeros() / 8) as usize);
        }
    }
    find_json_special(bytes)
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
            }
            let want = hay
                .iter()
                .position(|&b| b == b',' || b == b'\r' || b == b'\n');
            assert_eq!(find_any3(&hay, b',', b'\r', b'\n'), want, "{hay:?}");
        }
    }

    #[test]
    fn json_special_searches_agree_with_a_byte_by_byte_search() {
        let alphabet = b"ab,\"\\\r\n\x01\x1f \x7f\xc3\xa9.yp";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 70) as usize;
            let hay: Vec<u8> = (0..len)
                .map(|i| alphabet[((seed >> (i % 50)) as usize + i * 7) % alphabet.len()])
                .collect();
            let want = hay.iter().position(|&b| is_json_special(b));
            assert_eq!(find_json_special(&hay), want, "{hay:?}");
            assert_eq!(find_json_special_near(&hay), want, "{hay:?}");
        }
        // Every byte value, in every position of a word and a block.
        for b in 0..=255u8 {
            assert_eq!(json_special_key(b) == 0, is_json_special(b), "{b}");
            for at in 0..20 {
                let mut hay = vec![b'a'; 20];
                hay[at] = b;
                let want = is_json_special(b).then_some(at);
                assert_eq!(find_json_special(&hay), want, "{b} at {at}");
                assert_eq!(find_json_special_near(&hay), want, "{b} at {at}");
            }
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
