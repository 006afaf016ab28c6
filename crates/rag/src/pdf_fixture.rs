//! PDFs for tests and benchmarks (feature `test-support`): text pages written with `lopdf`, a
//! page with no text (as a scan has), and a file that needs a password.

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};

/// A PDF whose pages hold `pages[i]`'s paragraphs (a paragraph's lines are wrapped at about 80
/// characters; paragraphs are separated by a blank line).
///
/// # Panics
/// Never for valid input (encoding into memory cannot fail).
#[must_use]
pub fn text_pdf(pages: &[Vec<String>]) -> Vec<u8> {
    build(pages, false)
}

/// A one-page PDF with no text layer (an image-only scan looks the same to a text extractor).
#[must_use]
pub fn image_only_pdf() -> Vec<u8> {
    build(&[Vec::new()], false)
}

/// A PDF whose trailer names an encryption dictionary that no empty password opens.
#[must_use]
pub fn encrypted_pdf() -> Vec<u8> {
    build(&[vec!["Confidential price list.".to_owned()]], true)
}

fn wrap(paragraph: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in paragraph.split_whitespace() {
        if !line.is_empty() && line.len() + word.len() + 1 > 80 {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A decompression bomb: `pages` pages, each a `FlateDecode` content stream that inflates to
/// `inflated_bytes` bytes of text-showing operators (`(A) Tj`), about 1,000 times its size.
///
/// # Panics
/// Never (compression into memory cannot fail).
#[must_use]
#[allow(clippy::expect_used)]
pub fn bomb_pdf(pages: usize, inflated_bytes: usize) -> Vec<u8> {
    use std::io::Write as _;
    let line = b"(A) Tj T* ".repeat(100_000);
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(b"BT /F1 10 Tf 14 TL 50 800 Td ")
        .expect("compresses in memory");
    let mut left = inflated_bytes;
    while left > 0 {
        let n = left.min(line.len());
        encoder.write_all(&line[..n]).expect("compresses in memory");
        left -= n;
    }
    encoder.write_all(b" ET").expect("compresses in memory");
    let compressed = encoder.finish().expect("compresses in memory");
    let contents = (0..pages)
        .map(|_| {
            let mut stream = Stream::new(
                dictionary! { "Filter" => "FlateDecode" },
                compressed.clone(),
            );
            stream.allows_compression = false;
            stream
        })
        .collect();
    save(contents, false)
}

fn build(pages: &[Vec<String>], encrypted: bool) -> Vec<u8> {
    save(pages.iter().map(|p| text_stream(p)).collect(), encrypted)
}

#[allow(clippy::expect_used)]
fn text_stream(paragraphs: &[String]) -> Stream {
    let mut ops = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 10.into()]),
        Operation::new("TL", vec![14.into()]),
        Operation::new("Td", vec![50.into(), 800.into()]),
    ];
    for paragraph in paragraphs {
        for line in wrap(paragraph) {
            ops.push(Operation::new("Tj", vec![Object::string_literal(line)]));
            ops.push(Operation::new("T*", vec![]));
        }
        ops.push(Operation::new("T*", vec![]));
    }
    ops.push(Operation::new("ET", vec![]));
    let content = Content { operations: ops };
    Stream::new(dictionary! {}, content.encode().expect("content encodes"))
}

#[allow(clippy::expect_used)]
fn save(contents: Vec<Stream>, encrypted: bool) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for stream in contents {
        let content_id = doc.add_object(stream);
        kids.push(Object::from(doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        })));
    }
    let count = i64::try_from(kids.len()).unwrap_or(i64::MAX);
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    if encrypted {
        let encrypt_id = doc.add_object(dictionary! {
            "Filter" => "Standard", "V" => 2, "R" => 3, "Length" => 128, "P" => -1,
            "O" => Object::string_literal(vec![7u8; 32]),
            "U" => Object::string_literal(vec![9u8; 32]),
        });
        doc.trailer.set("Encrypt", encrypt_id);
        doc.trailer.set(
            "ID",
            vec![
                Object::string_literal(vec![1u8; 16]),
                Object::string_literal(vec![1u8; 16]),
            ],
        );
    }
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("PDF writes to memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{DocumentFormat, extract};

    #[test]
    fn decompression_bombs_are_refused_at_the_limits() {
        use crate::extract::{ExtractError, Limit};
        let peak_kib = || {
            std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| {
                    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_owned();
                    line.split_whitespace().nth(1)?.parse::<u64>().ok()
                })
                .unwrap_or(0)
        };
        let bomb = bomb_pdf(1, 256 << 20);
        let (before, started) = (peak_kib(), std::time::Instant::now());
        assert_eq!(
            extract(&bomb, DocumentFormat::Pdf),
            Err(ExtractError::ExceedsLimit {
                limit: Limit::StreamBytes
            })
        );
        // Measured, not enforced (the closing note reports it).
        eprintln!(
            "256 MiB bomb ({} KiB) refused in {:?}, peak memory +{} KiB",
            bomb.len() / 1024,
            started.elapsed(),
            peak_kib().saturating_sub(before)
        );
        assert_eq!(
            extract(&bomb_pdf(1, 64 << 20), DocumentFormat::Pdf),
            Err(ExtractError::ExceedsLimit {
                limit: Limit::StreamBytes
            })
        );
        // Each stream under its limit, together over the document's.
        assert_eq!(
            extract(&bomb_pdf(12, 3 << 20), DocumentFormat::Pdf),
            Err(ExtractError::ExceedsLimit {
                limit: Limit::InflatedBytes
            })
        );
        // Far below both: read as text (one line of 'A's per operator).
        let fine = extract(&bomb_pdf(1, 10_000), DocumentFormat::Pdf);
        assert!(fine.is_ok_and(|e| e.text.contains('A')));
    }

    #[test]
    fn text_pdfs_extract_with_their_paragraphs_and_bad_pdfs_are_refused_with_codes() {
        let pdf = text_pdf(&[
            vec![
                "Opening Hours".into(),
                "We are open Monday to Friday, 9am to 7pm.".into(),
            ],
            vec![
                "Prices".into(),
                "A consultation costs £50.".replace('£', "GBP "),
            ],
        ]);
        let got = extract(&pdf, DocumentFormat::Pdf).unwrap();
        assert_eq!(got.page_count, Some(2));
        assert!(
            got.text
                .contains("We are open Monday to Friday, 9am to 7pm."),
            "{}",
            got.text
        );
        assert!(
            got.text.contains("consultation costs GBP 50"),
            "{}",
            got.text
        );
        let chunks = crate::chunk::chunk(&got.text, false);
        assert!(
            chunks.iter().any(|c| c.heading == "Opening Hours"),
            "{chunks:?}"
        );
        assert_eq!(
            extract(&image_only_pdf(), DocumentFormat::Pdf)
                .unwrap_err()
                .code(),
            "pdf_no_text"
        );
        assert_eq!(
            extract(&encrypted_pdf(), DocumentFormat::Pdf)
                .unwrap_err()
                .code(),
            "pdf_encrypted"
        );
    }
}
