//! Text out of an uploaded file: PDF (through `pdf-extract` over `lopdf`), plain text and
//! Markdown. Refusals have stable codes ([`ExtractError::code`]) and never change anything.

use serde::{Deserialize, Serialize};

/// Largest upload accepted, in bytes (10 MiB: a clinic's price list or handbook is far smaller).
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// Most pages a PDF may have.
pub const MAX_PAGES: usize = 1_000;
/// Most characters of text, whitespace not counted, a document may yield (about 400 pages of
/// prose), for every format.
pub const MAX_DOCUMENT_CHARS: usize = 1_000_000;

pub use crate::pdf_limits::{MAX_INFLATED_BYTES, MAX_STREAM_BYTES};

/// Which extraction limit a document exceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// One PDF stream decodes to more than [`MAX_STREAM_BYTES`] bytes.
    StreamBytes,
    /// The PDF's streams decode to more than [`MAX_INFLATED_BYTES`] bytes together.
    InflatedBytes,
    /// More than [`MAX_PAGES`] pages.
    Pages,
    /// More than [`MAX_DOCUMENT_CHARS`] characters of text.
    Characters,
}

impl Limit {
    /// The limit's value (bytes, pages or characters, as [`Limit::unit`] says).
    #[must_use]
    pub fn value(self) -> usize {
        match self {
            Self::StreamBytes => MAX_STREAM_BYTES,
            Self::InflatedBytes => MAX_INFLATED_BYTES,
            Self::Pages => MAX_PAGES,
            Self::Characters => MAX_DOCUMENT_CHARS,
        }
    }

    /// What the value counts, for messages.
    #[must_use]
    pub fn unit(self) -> &'static str {
        match self {
            Self::StreamBytes => "bytes in one decompressed PDF stream",
            Self::InflatedBytes => "decompressed bytes",
            Self::Pages => "pages",
            Self::Characters => "characters of text",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.value(), self.unit())
    }
}

/// A document's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentFormat {
    /// `application/pdf`, `.pdf`.
    Pdf,
    /// `text/plain`, `.txt`.
    Text,
    /// `text/markdown`, `.md`, `.markdown`.
    Markdown,
}

impl DocumentFormat {
    /// The stored name (`pdf`, `text`, `markdown`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Text => "text",
            Self::Markdown => "markdown",
        }
    }

    /// The format of an upload from its bytes (a `%PDF-` header wins), its file name's
    /// extension and its declared content type, in that order.
    ///
    /// # Errors
    /// [`ExtractError::UnsupportedFormat`] for anything else (Word files, images, …).
    pub fn detect(
        bytes: &[u8],
        filename: &str,
        content_type: Option<&str>,
    ) -> Result<Self, ExtractError> {
        if bytes.starts_with(b"%PDF-") {
            return Ok(Self::Pdf);
        }
        let lower = filename.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
        let mime = content_type
            .map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        match (ext, mime.as_str()) {
            ("pdf", _) | (_, "application/pdf") => Ok(Self::Pdf),
            ("md" | "markdown", _) | (_, "text/markdown" | "text/x-markdown") => Ok(Self::Markdown),
            ("txt" | "text", _) | (_, "text/plain") => Ok(Self::Text),
            _ => Err(ExtractError::UnsupportedFormat),
        }
    }
}

/// Why an upload cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// Larger than [`MAX_UPLOAD_BYTES`].
    #[error("the file is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The file is within [`MAX_UPLOAD_BYTES`] but what it holds exceeds an extraction limit
    /// (a decompression bomb, a huge page count, too much text); extraction stopped there.
    #[error("the document is too large: it exceeds the limit of {limit}")]
    ExceedsLimit {
        /// The limit exceeded.
        limit: Limit,
    },
    /// Not PDF, plain text or Markdown.
    #[error("only PDF, plain text (.txt) and Markdown (.md) files can be added")]
    UnsupportedFormat,
    /// The PDF needs a password to open.
    #[error("the PDF is password-protected; upload a copy without a password")]
    PdfEncrypted,
    /// The PDF has pages but no text layer (a scan or images of text).
    #[error(
        "the PDF's {pages} page(s) contain no text (scanned or image-only); upload a PDF with selectable text or a text file"
    )]
    PdfNoText {
        /// Pages in the file.
        pages: usize,
    },
    /// Not a PDF that can be parsed.
    #[error("the PDF could not be read; it may be damaged")]
    PdfUnreadable,
    /// A text or Markdown file that is not UTF-8.
    #[error("the text file is not UTF-8")]
    NotUtf8,
    /// Nothing but whitespace.
    #[error("the document is empty")]
    Empty,
}

impl ExtractError {
    /// A stable machine code for the error body.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } | Self::ExceedsLimit { .. } => "document_too_large",
            Self::UnsupportedFormat => "unsupported_format",
            Self::PdfEncrypted => "pdf_encrypted",
            Self::PdfNoText { .. } => "pdf_no_text",
            Self::PdfUnreadable => "pdf_unreadable",
            Self::NotUtf8 => "text_not_utf8",
            Self::Empty => "document_empty",
        }
    }
}

/// Text extracted from an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The format.
    pub format: DocumentFormat,
    /// The text: Markdown as uploaded; PDF pages with blank lines between paragraphs and pages.
    pub text: String,
    /// Pages (PDF only).
    pub page_count: Option<usize>,
}

/// Extracts the text of `bytes` in `format`. CPU-bound (a 50-page PDF takes tens of
/// milliseconds): call it from a blocking thread. Every stage is bounded: decompressed PDF
/// streams ([`MAX_STREAM_BYTES`], [`MAX_INFLATED_BYTES`]), pages ([`MAX_PAGES`]) and text
/// ([`MAX_DOCUMENT_CHARS`], counted as pages are read). NUL characters, which PostgreSQL text
/// cannot hold, are removed.
///
/// # Errors
/// [`ExtractError`]; a PDF that makes the parser panic is [`ExtractError::PdfUnreadable`].
pub fn extract(bytes: &[u8], format: DocumentFormat) -> Result<Extracted, ExtractError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(ExtractError::TooLarge {
            limit: MAX_UPLOAD_BYTES,
        });
    }
    let (text, page_count) = match format {
        DocumentFormat::Pdf => {
            let pages = std::panic::catch_unwind(|| pdf_pages(bytes))
                .map_err(|_| ExtractError::PdfUnreadable)??;
            let count = pages.len();
            let text = pages
                .iter()
                .map(|p| tidy_pdf_page(p))
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join("\n\n");
            if count > 0 && text.chars().filter(|c| c.is_alphanumeric()).count() < 3 {
                return Err(ExtractError::PdfNoText { pages: count });
            }
            (text, Some(count))
        }
        DocumentFormat::Text | DocumentFormat::Markdown => {
            let text = std::str::from_utf8(bytes).map_err(|_| ExtractError::NotUtf8)?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            if text.chars().filter(|c| !c.is_whitespace()).count() > MAX_DOCUMENT_CHARS {
                return Err(over(Limit::Characters));
            }
            (text.replace("\r\n", "\n").replace('\r', "\n"), None)
        }
    };
    let text = if text.contains('\0') {
        text.replace('\0', "")
    } else {
        text
    };
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(Extracted {
        format,
        text,
        page_count,
    })
}

fn over(limit: Limit) -> ExtractError {
    ExtractError::ExceedsLimit { limit }
}

fn exceeded(e: crate::pdf_limits::Exceeded) -> ExtractError {
    over(match e {
        crate::pdf_limits::Exceeded::Stream => Limit::StreamBytes,
        crate::pdf_limits::Exceeded::Total => Limit::InflatedBytes,
    })
}

/// The text of each page. An encrypted file that opens with the empty user password (owner
/// restrictions only) is read; one that needs a password is refused, and so is an encrypted
/// one with object streams (`lopdf` decrypts and inflates those while loading, before any
/// size can be measured).
fn pdf_pages(bytes: &[u8]) -> Result<Vec<String>, ExtractError> {
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if contains(b"/Encrypt") && contains(b"/ObjStm") {
        return Err(ExtractError::PdfEncrypted);
    }
    let mut doc = crate::pdf_limits::guarded_load(bytes)
        .map_err(|e| match e {
            lopdf::Error::Decryption(_) | lopdf::Error::InvalidPassword => {
                ExtractError::PdfEncrypted
            }
            _ => ExtractError::PdfUnreadable,
        })?
        .map_err(exceeded)?;
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        return Err(ExtractError::PdfEncrypted);
    }
    crate::pdf_limits::check_loaded(&doc).map_err(exceeded)?;
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    if pages.len() > MAX_PAGES {
        return Err(over(Limit::Pages));
    }
    let mut out = Vec::with_capacity(pages.len());
    let mut chars = 0usize;
    for number in pages {
        let mut text = String::new();
        let mut output = pdf_extract::PlainTextOutput::new(&mut text);
        // A page whose content cannot be decoded counts as a page without text.
        if pdf_extract::output_doc_page(&doc, &mut output, number).is_err() {
            text.clear();
        }
        chars += text.chars().filter(|c| !c.is_whitespace()).count();
        if chars > MAX_DOCUMENT_CHARS {
            return Err(over(Limit::Characters));
        }
        out.push(text);
    }
    Ok(out)
}

/// Collapses the PDF extractor's spacing: runs of spaces become one, lines are trimmed, line
/// breaks inside a paragraph are kept, and three or more newlines become a paragraph break.
fn tidy_pdf_page(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut blank_run = 0usize;
    for line in page.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_by_header_extension_and_content_type() {
        assert_eq!(
            DocumentFormat::detect(b"%PDF-1.7 ...", "x.txt", None),
            Ok(DocumentFormat::Pdf)
        );
        assert_eq!(
            DocumentFormat::detect(b"# Hi", "FAQ.MD", None),
            Ok(DocumentFormat::Markdown)
        );
        assert_eq!(
            DocumentFormat::detect(b"hi", "notes", Some("text/plain; charset=utf-8")),
            Ok(DocumentFormat::Text)
        );
        assert_eq!(
            DocumentFormat::detect(b"PK..", "price list.docx", None),
            Err(ExtractError::UnsupportedFormat)
        );
    }

    #[test]
    fn text_refusals_have_codes() {
        assert_eq!(
            extract(b" \n\t ", DocumentFormat::Text).unwrap_err().code(),
            "document_empty"
        );
        assert_eq!(
            extract(&[0xff, 0xfe, 0x00], DocumentFormat::Markdown)
                .unwrap_err()
                .code(),
            "text_not_utf8"
        );
        assert_eq!(
            extract(b"%PDF-1.4 garbage", DocumentFormat::Pdf)
                .unwrap_err()
                .code(),
            "pdf_unreadable"
        );
        let big = vec![b'a'; MAX_UPLOAD_BYTES + 1];
        assert_eq!(
            extract(&big, DocumentFormat::Text).unwrap_err().code(),
            "document_too_large"
        );
    }

    #[test]
    fn text_limits_and_nul() {
        let long = "a".repeat(MAX_DOCUMENT_CHARS + 1);
        assert_eq!(
            extract(long.as_bytes(), DocumentFormat::Markdown),
            Err(ExtractError::ExceedsLimit {
                limit: Limit::Characters
            })
        );
        let text = extract(b"Hours\0: 9-5", DocumentFormat::Text).map(|e| e.text);
        assert_eq!(text.as_deref(), Ok("Hours: 9-5"));
    }

    #[test]
    fn pdf_spacing_is_tidied() {
        assert_eq!(
            tidy_pdf_page("  Opening   hours\nMon 9-5\n\n\n\nPrices  here \n"),
            "Opening hours\nMon 9-5\n\nPrices here"
        );
    }
}
