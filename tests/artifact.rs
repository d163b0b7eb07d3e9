//! The compiled file: the golden file (its bytes and its verdicts), round
//! trip, determinism, and every kind of damage rejected with a clear error,
//! never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails by panicking

use std::path::{Path, PathBuf};
use std::process::Command;

use mxrules::core::bounce::Bounce;
use mxrules::core::status::Category;
use mxrules::runtime::artifact::{self, AlignedBytes, FORMAT_VERSION};
use mxrules::runtime::classify::{Classification, Classifier};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> Classifier {
    let parsed =
        mxrules::syntax::load::parse_paths(&[PathBuf::from("rules.d")].map(|p| root().join(p)))
            .unwrap();
    let rules = mxrules::check::check(&parsed).rules.unwrap();
    mxrules::compile::classifier(rules).unwrap()
}

fn bytes() -> Vec<u8> {
    artifact::to_bytes(shipped().tables()).unwrap()
}

fn load_err(b: &[u8]) -> artifact::ArtifactError {
    let aligned = AlignedBytes::new(b);
    match artifact::load(aligned.as_slice()) {
        Ok(_) => panic!("damaged file was accepted"),
        Err(e) => e,
    }
}

/// The classifier of a compiled file's bytes.
fn loaded(aligned: &AlignedBytes) -> Result<Classifier<&[u32]>, artifact::ArtifactError> {
    artifact::load(aligned.as_slice()).map(Classifier::from_tables)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mxrules-artifact-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn replies() -> Vec<Bounce> {
    let mut out = Vec::new();
    let classifier = shipped();
    for rule in &classifier.rules().rules {
        let scope = &classifier.rules().scopes[rule.scope];
        for ex in &rule.examples {
            let mut b = Bounce::new(ex.clone());
            match scope.keys.first() {
                Some(mxrules::core::model::ScopeKey::MxExact(h)) => b.mx = Some(h.clone()),
                Some(mxrules::core::model::ScopeKey::MxSuffix(s)) => b.mx = Some(format!("mx.{s}")),
                Some(mxrules::core::model::ScopeKey::RcptDomain(d)) => {
                    b.rcpt = Some(format!("user@{d}"))
                }
                _ => {}
            }
            out.push(b);
        }
    }
    out.push(Bounce::new("550 5.1.1 unknown").mx("mx.unknown.example"));
    out.push(Bounce::new("421 4.7.0 try later"));
    out
}

#[test]
fn same_rules_give_the_same_bytes() {
    assert_eq!(bytes(), bytes());
}

#[test]
fn artifact_round_trips_and_classifies_like_the_compiled_rules() {
    let compiled = shipped();
    let b = bytes();
    let aligned = AlignedBytes::new(&b);
    let loaded = loaded(&aligned).unwrap();
    // Equal but for the source spans, which a compiled file does not keep.
    let mut expected = compiled.rules().clone();
    for r in &mut expected.rules {
        r.span = Default::default();
        r.head = Default::default();
        r.example_spans.clear();
    }
    assert_eq!(loaded.rules(), &expected);
    assert_eq!(loaded.tables().selector, compiled.tables().selector);
    let cases = replies();
    assert!(cases.len() > 2);
    for case in &cases {
        assert_eq!(loaded.classify(case), compiled.classify(case), "{case:?}");
    }
    // Written again from the loaded tables: the same bytes.
    assert_eq!(artifact::to_bytes(loaded.tables()).unwrap(), b);
}

#[test]
fn loads_from_any_alignment_of_the_source_buffer() {
    let b = bytes();
    for shift in 0..8 {
        let mut v = vec![0u8; shift];
        v.extend_from_slice(&b);
        let aligned = AlignedBytes::new(&v[shift..]);
        assert!(artifact::load(aligned.as_slice()).is_ok(), "shift {shift}");
    }
}

#[test]
fn truncated_file_is_rejected() {
    let b = bytes();
    for len in [0, 4, 8, 20, 39, 40, 100, b.len() / 2, b.len() - 1] {
        let e = load_err(&b[..len]);
        assert!(e.is_truncated() || e.is_not_an_artifact(), "len {len}: {e}");
    }
    let e = load_err(&b[..b.len() - 1]);
    assert!(
        e.to_string()
            .starts_with("compiled file is truncated: the header says"),
        "{e}"
    );
}

#[test]
fn foreign_file_is_rejected() {
    for junk in [
        &b"PK\x03\x04 a zip file"[..],
        b"{\"json\": true}",
        b"",
        b"MXRULE",
    ] {
        let e = load_err(junk);
        assert!(e.is_not_an_artifact(), "{e}");
        assert!(e.to_string().contains("not a compiled mxrules file"), "{e}");
    }
}

#[test]
fn newer_and_older_versions_are_rejected() {
    let mut b = bytes();
    b[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e = load_err(&b);
    assert!(e.is_version_mismatch());
    assert!(e.to_string().contains("newer than the version"), "{e}");
    b[8..12].copy_from_slice(&0u32.to_le_bytes());
    assert!(load_err(&b).to_string().contains("older than the version"));
}

#[test]
fn other_byte_order_is_rejected() {
    let mut b = bytes();
    b[12..16].reverse();
    let e = load_err(&b);
    assert!(e.is_corrupt());
    assert!(e.to_string().contains("byte order"), "{e}");
}

#[test]
fn every_flipped_byte_is_caught() {
    let b = bytes();
    // Every byte of the header, then a sample over the table of contents
    // and the DFAs.
    let step = (b.len() / 300).max(1);
    let positions: Vec<usize> = (0..64).chain((64..b.len()).step_by(step)).collect();
    for &i in &positions {
        let mut d = b.clone();
        d[i] ^= 0x5a;
        let aligned = AlignedBytes::new(&d);
        assert!(
            artifact::load(aligned.as_slice()).is_err(),
            "flip at {i} accepted"
        );
    }
}

#[test]
fn appended_bytes_are_rejected() {
    let mut b = bytes();
    b.extend_from_slice(b"trailing");
    assert!(load_err(&b).is_corrupt());
}

/// `b` with the checksum recomputed, as a forger would.
fn forged(mut b: Vec<u8>) -> AlignedBytes {
    let crc = crc32(&b[32..]);
    b[24..28].copy_from_slice(&crc.to_le_bytes());
    AlignedBytes::new(&b)
}

fn toc_len(b: &[u8]) -> usize {
    u64::from_le_bytes(b[32..40].try_into().unwrap()) as usize
}

#[test]
fn damage_behind_a_valid_checksum_is_still_caught() {
    // A file whose checksum was recomputed after damage: the structure checks
    // (table of contents, DFA validation, the tables it makes) must still
    // refuse it.
    let b = bytes();
    let toc_len = toc_len(&b);
    let data_start = (40 + toc_len).div_ceil(8) * 8;
    let flip = |i: usize| {
        let mut d = b.clone();
        d[i] ^= 0xff;
        forged(d)
    };
    // The count of policy entries (its low and its second byte), a file
    // name in the first entry (no longer UTF-8), a DFA's header.
    for i in [40, 41, 60, data_start + 8] {
        let e = match loaded(&flip(i)) {
            Ok(_) => panic!("forged damage at {i} was accepted"),
            Err(e) => e,
        };
        assert!(e.is_corrupt(), "{i}: {e}");
        assert!(
            e.to_string().starts_with("compiled file is corrupted: "),
            "{e}"
        );
    }
    // A table of contents cut short, or one byte longer than written.
    for len in [toc_len - 1, toc_len + 1] {
        let mut d = b.clone();
        d[32..40].copy_from_slice(&(len as u64).to_le_bytes());
        let e = match loaded(&forged(d)) {
            Ok(_) => panic!("table of contents of {len} bytes accepted"),
            Err(e) => e,
        };
        assert!(e.is_corrupt(), "{len}: {e}");
    }
    // Damage deep in a DFA's transitions may still validate; it must then
    // classify without panicking.
    for i in [data_start + 100, b.len() - 16] {
        if let Ok(c) = loaded(&flip(i)) {
            for case in replies() {
                let _ = c.classify(&case);
            }
        }
    }
}

#[test]
fn every_forged_byte_of_the_table_of_contents_is_refused_or_harmless() {
    // Each byte of the golden file's table of contents damaged behind a
    // valid checksum: refused as corrupted, with a message, or (a byte of a
    // literal, a line number) read as other tables that classify without
    // panicking. Most are refused.
    let b = golden_file();
    let toc = 40..40 + toc_len(&b);
    let mut refused = 0;
    for i in toc.clone() {
        let mut d = b.clone();
        d[i] ^= 0xff;
        match loaded(&forged(d)) {
            Err(e) => {
                assert!(e.is_corrupt(), "{i}: {e}");
                assert!(
                    e.to_string().starts_with("compiled file is corrupted: "),
                    "{i}: {e}"
                );
                refused += 1;
            }
            Ok(c) => {
                for (bounce, _) in golden_cases() {
                    let _ = c.classify(&bounce);
                }
            }
        }
    }
    assert!(
        refused * 2 > toc.len(),
        "{refused} of {} refused",
        toc.len()
    );
}

#[test]
fn a_forged_count_allocates_nothing_before_it_is_refused() {
    // The first count of the table of contents set to its largest value.
    let mut b = golden_file();
    b[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = match loaded(&forged(b)) {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    };
    assert!(
        e.to_string()
            .contains("the policy counts 4294967295 entries, more than the bytes left"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------
// The golden file: tests/artifact/golden.mxc is tests/artifact/golden.rules
// compiled. It must load and classify as recorded below, and compiling the
// rules today must give it byte for byte: a change to the format, made
// without a new format version, fails here.

const GOLDEN_RULES: &str = "tests/artifact/golden.rules";
const GOLDEN_FILE: &str = "tests/artifact/golden.mxc";
const BLESS: &str = "MXRULES_BLESS_GOLDEN";

/// The checksum (header bytes 24..28) of golden.mxc under each format
/// version. When the bytes of the compiled file change, bump
/// `FORMAT_VERSION` (src/runtime/artifact.rs), regenerate golden.mxc with
/// `MXRULES_BLESS_GOLDEN=1 cargo test --test artifact golden`, and append a
/// line for the new version; never edit a line.
const GOLDEN_CHECKSUMS: &[(u32, u32)] = &[(4, 0x2c48_7be4)];

fn golden_file() -> Vec<u8> {
    std::fs::read(root().join(GOLDEN_FILE)).unwrap()
}

/// golden.rules compiled now, under the relative name it has in the file.
fn golden_compiled() -> Classifier {
    let text = std::fs::read_to_string(root().join(GOLDEN_RULES)).unwrap();
    let mut parsed = mxrules::syntax::load::Parsed::default();
    parsed.add_text("golden.rules", &text);
    let checked = mxrules::check::check(&parsed);
    let rules = checked.rules.expect("golden.rules checks");
    mxrules::compile::classifier(rules).unwrap()
}

/// Replies to the golden rules and what they give: `status verdict rule
/// category`, or `unmatched status verdict`.
fn golden_cases() -> Vec<(Bounce, &'static str)> {
    let net = |reply: &str| Bounce::new(reply).mx("mx.example.net");
    let org = |reply: &str| Bounce::new(reply).mx("mx1.example.org");
    vec![
        // mx ends with ".example.net": a literal rule under `initial 5.0.0`.
        (
            net("550 no such user here"),
            "5.1.1 quarantine golden.rules:17 bad-mailbox",
        ),
        (
            Bounce::new("550 no such user here").mx("evil-example.net"),
            "unmatched 5.0.0 hard",
        ),
        (
            net("550 5.1.1 no such user here"),
            "5.1.1 quarantine golden.rules:45 -",
        ),
        // Literal pieces, case folded.
        (
            Bounce::new("550 sorry, MAILBOX IS FULL").mx("a.b.EXAMPLE.net."),
            "5.2.2 soft golden.rules:20 quota-issues",
        ),
        (net("550 full mailbox"), "unmatched 5.0.0 hard"),
        // mx is: a DFA behind a literal group, and a case-folded literal
        // anchored at both ends.
        (
            org("554 0badf00d rejected"),
            "5.7.1 blocked golden.rules:25 spam-related",
        ),
        (
            Bounce::new("554 0badf00d rejected").mx("mx3.example.org"),
            "unmatched 5.0.0 hard",
        ),
        (
            Bounce::new("550 Unknown User").mx("MX2.example.org"),
            "5.1.1 quarantine golden.rules:27 -",
        ),
        (org("550 invalid recipient here"), "unmatched 5.0.0 hard"),
        // rcpt domain is: literal pieces of alternatives.
        (
            Bounce::new("550 Account Disabled").rcpt("someone@example.info"),
            "5.2.1 hard golden.rules:32 inactive-mailbox",
        ),
        (
            Bounce::new("550 account suspended")
                .rcpt("a@EXAMPLE.com")
                .mx("mx.elsewhere.test"),
            "5.2.1 hard golden.rules:32 inactive-mailbox",
        ),
        (
            Bounce::new("550 account suspended").rcpt("a@example.org"),
            "unmatched 5.0.0 hard",
        ),
        // global: `reported`, `initial 4.*.*`, a literal, DFAs.
        (
            Bounce::new("550 sender blocked").reported_category(Category::SpamRelated),
            "5.7.1 hard golden.rules:38 spam-related",
        ),
        (
            Bounce::new("550 sender blocked").reported_category(Category::PolicyRelated),
            "unmatched 5.0.0 hard",
        ),
        (Bounce::new("550 sender blocked"), "unmatched 5.0.0 hard"),
        (
            Bounce::new("451 please try again later"),
            "4.7.0 soft golden.rules:42 policy-related",
        ),
        (
            Bounce::new("421 4.7.1 try later").mx("mx.example.net"),
            "4.7.0 soft golden.rules:42 policy-related",
        ),
        (
            Bounce::new("550 5.1.1 unknown"),
            "5.1.1 quarantine golden.rules:45 -",
        ),
        (
            Bounce::new("550 user@example.com rejected"),
            "5.7.1 blocked golden.rules:47 -",
        ),
        (Bounce::new("554 123"), "5.0.0 hard golden.rules:49 -"),
        (Bounce::new("554 1234"), "unmatched 5.0.0 hard"),
        (
            Bounce::new("421 service unavailable"),
            "unmatched 4.0.0 soft",
        ),
        (Bounce::new("no reply code at all"), "unmatched - hard"),
    ]
}

fn outcome(c: &Classification) -> String {
    let status = c
        .status
        .map_or_else(|| String::from("-"), |s| s.to_string());
    if c.unmatched {
        return format!("unmatched {status} {}", c.verdict);
    }
    format!(
        "{status} {} {} {}",
        c.verdict,
        c.rule.as_deref().unwrap_or("-"),
        c.category.map_or("-", |c| c.as_str())
    )
}

#[test]
fn golden_file_loads_and_classifies_as_recorded() {
    let b = golden_file();
    let aligned = AlignedBytes::new(&b);
    let c = loaded(&aligned).unwrap_or_else(|e| {
        panic!("{GOLDEN_FILE} does not load: {e}; if the format changed, bump FORMAT_VERSION and regenerate it with {BLESS}=1")
    });
    let compiled = golden_compiled();
    for (bounce, expected) in golden_cases() {
        assert_eq!(outcome(&c.classify(&bounce)), expected, "{bounce:?}");
        assert_eq!(
            c.classify(&bounce),
            compiled.classify(&bounce),
            "{bounce:?}"
        );
    }
}

#[test]
fn golden_rules_compile_to_the_golden_file_byte_for_byte() {
    let bytes = artifact::to_bytes(golden_compiled().tables()).unwrap();
    let path = root().join(GOLDEN_FILE);
    if std::env::var_os(BLESS).is_some() {
        let tmp = path.with_extension("mxc.tmp");
        std::fs::write(&tmp, &bytes).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        eprintln!(
            "wrote {GOLDEN_FILE}: version {FORMAT_VERSION}, checksum {:#010x}",
            u32::from_le_bytes(bytes[24..28].try_into().unwrap())
        );
        return;
    }
    let golden = golden_file();
    assert!(
        golden == bytes,
        "compiling {GOLDEN_RULES} no longer gives {GOLDEN_FILE} ({} bytes now, {} recorded): \
         the compiled file's format changed. Bump FORMAT_VERSION in src/runtime/artifact.rs, \
         regenerate the file with `{BLESS}=1 cargo test --test artifact golden`, and record its \
         checksum in GOLDEN_CHECKSUMS (tests/artifact.rs)",
        bytes.len(),
        golden.len()
    );
}

#[test]
fn golden_file_is_the_one_recorded_for_its_version() {
    let b = golden_file();
    let version = u32::from_le_bytes(b[8..12].try_into().unwrap());
    let checksum = u32::from_le_bytes(b[24..28].try_into().unwrap());
    assert_eq!(
        version, FORMAT_VERSION,
        "{GOLDEN_FILE} has format version {version}, this build writes {FORMAT_VERSION}: \
         regenerate it with `{BLESS}=1 cargo test --test artifact golden`"
    );
    assert!(
        GOLDEN_CHECKSUMS.windows(2).all(|w| w[0].0 < w[1].0),
        "GOLDEN_CHECKSUMS: one line per version, in order"
    );
    match GOLDEN_CHECKSUMS.last() {
        Some(&(last, recorded)) if last == version => assert_eq!(
            checksum, recorded,
            "{GOLDEN_FILE} (checksum {checksum:#010x}) is not the file recorded for format \
             version {version} ({recorded:#010x}): a change to the bytes of the compiled file \
             needs a new FORMAT_VERSION (src/runtime/artifact.rs); bump it, regenerate the file \
             with `{BLESS}=1 cargo test --test artifact golden`, and append a line for the new \
             version to GOLDEN_CHECKSUMS"
        ),
        _ => panic!(
            "no checksum of {GOLDEN_FILE} is recorded for format version {version}: append \
             ({version}, {checksum:#010x}) to GOLDEN_CHECKSUMS (tests/artifact.rs)"
        ),
    }
}

/// CRC-32 (IEEE), bit by bit: the test's own, to forge checksums.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn cli_compiles_atomically_and_classifies_from_the_file() {
    let dir = temp("cli");
    let out = dir.join("rules.mxc");
    let bin = env!("CARGO_BIN_EXE_mxrules");
    let st = Command::new(bin)
        .current_dir(root())
        .args(["compile", "rules.d", "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let first = std::fs::read(&out).unwrap();
    let st = Command::new(bin)
        .current_dir(root())
        .args(["compile", "rules.d", "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(std::fs::read(&out).unwrap(), first, "not deterministic");
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("rules.mxc")]);

    let explain = |rules: &Path| {
        Command::new(bin)
            .current_dir(root())
            .args(["explain", "--mx", "mxs.mail.ru", "--rules"])
            .arg(rules)
            .arg("550 must be local recipient")
            .output()
            .unwrap()
    };
    let from_file = explain(&out);
    let from_source = explain(Path::new("rules.d"));
    assert!(from_file.status.success());
    assert_eq!(from_file.stdout, from_source.stdout);

    // Damaged: exit 2 and a clear message, no panic.
    let bad = dir.join("bad.mxc");
    std::fs::write(&bad, &first[..first.len() / 2]).unwrap();
    let o = explain(&bad);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("error: compiled file is truncated"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
