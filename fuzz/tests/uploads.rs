//! Knowledge-base uploads: multipart framing as the gateway reads it, and PDF/text extraction
//! of mutated documents (including mutated decompression bombs). Every input ends in a
//! document or a refusal, never a panic, and nothing extracted exceeds the limits.

#![allow(clippy::unwrap_used, missing_docs)]

use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use parser_fuzz::mutated;
use proptest::prelude::*;
use rag::extract::{DocumentFormat, MAX_DOCUMENT_CHARS, extract};
use rag::pdf_fixture::{bomb_pdf, text_pdf};

const FORM: &str = "--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nPrices\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nA consultation costs 50.\r\n--B--\r\n";

fn read(body: Vec<u8>) -> Result<usize, String> {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("multipart/form-data; boundary=B"),
    );
    let stream = futures_util::stream::iter([Ok::<_, actix_web::error::PayloadError>(
        actix_web::web::Bytes::from(body),
    )]);
    let multipart = actix_multipart::Multipart::new(&headers, stream);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(gateway::routes::knowledge_base::read_upload(multipart))
        .map(|upload| upload.bytes.len())
        .map_err(|e| e.to_string())
}

fn pdf_seed() -> Vec<u8> {
    text_pdf(&[
        vec![
            "Opening Hours".into(),
            "We are open Monday to Friday, 9am to 7pm.".into(),
        ],
        vec!["Prices".into(), "A consultation costs 50 dollars.".into()],
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, max_shrink_iters: 100, ..ProptestConfig::default() })]

    #[test]
    fn multipart_forms_never_panic(body in mutated(FORM.as_bytes().to_vec())) {
        if let Ok(len) = read(body) {
            prop_assert!(len <= rag::extract::MAX_UPLOAD_BYTES);
        }
    }

    #[test]
    fn mutated_pdfs_end_in_text_or_a_refusal(pdf in mutated(pdf_seed())) {
        if let Ok(doc) = extract(&pdf, DocumentFormat::Pdf) {
            prop_assert!(doc.text.chars().filter(|c| !c.is_whitespace()).count() <= MAX_DOCUMENT_CHARS);
        }
    }

    #[test]
    fn text_uploads_end_in_text_or_a_refusal(text in prop::collection::vec(any::<u8>(), 0..512)) {
        for format in [DocumentFormat::Text, DocumentFormat::Markdown, DocumentFormat::Pdf] {
            if let Ok(doc) = extract(&text, format) {
                prop_assert!(!doc.text.contains('\0'));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, max_shrink_iters: 20, ..ProptestConfig::default() })]

    /// A bomb with its bytes mutated is still refused or read within the limits.
    #[test]
    fn mutated_bombs_stay_bounded(pdf in mutated(bomb_pdf(1, 8 << 20))) {
        if let Ok(doc) = extract(&pdf, DocumentFormat::Pdf) {
            prop_assert!(doc.text.chars().filter(|c| !c.is_whitespace()).count() <= MAX_DOCUMENT_CHARS);
        }
    }
}
