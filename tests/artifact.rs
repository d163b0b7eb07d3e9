//! The compiled file: round trip, determinism, and every kind of damage
//! rejected with a clear error, never a panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use mxrules::core::bounce::Bounce;
use mxrules::runtime::artifact::{self, AlignedBytes, FORMAT_VERSION};
use mxrules::runtime::classify::Classifier;

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
    let loaded = artifact::load(aligned.as_slice()).unwrap();
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

#[test]
fn damage_behind_a_valid_checksum_is_still_caught() {
    // A file whose checksum was recomputed after damage: the structure checks
    // (table of contents, DFA validation) must still refuse it.
    let b = bytes();
    let toc_len = u64::from_le_bytes(b[32..40].try_into().unwrap()) as usize;
    let data_start = (40 + toc_len).div_ceil(8) * 8;
    let forge = |i: usize| {
        let mut d = b.clone();
        d[i] ^= 0xff;
        let crc = crc32(&d[32..]);
        d[24..28].copy_from_slice(&crc.to_le_bytes());
        AlignedBytes::new(&d)
    };
    // Damage to the table of contents (0xff is never valid in its JSON) and
    // to a DFA's header is refused.
    for i in [41, 60, 40 + toc_len / 2, data_start + 8] {
        let e = match artifact::load(forge(i).as_slice()) {
            Ok(_) => panic!("forged damage at {i} was accepted"),
            Err(e) => e,
        };
        assert!(e.is_corrupt(), "{i}: {e}");
    }
    // Damage deep in a DFA's transitions may still validate; it must then
    // classify without panicking.
    for i in [data_start + 100, b.len() - 16] {
        if let Ok(c) = artifact::load(forge(i).as_slice()) {
            for case in replies() {
                let _ = c.classify(&case);
            }
        }
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
