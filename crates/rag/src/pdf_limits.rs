//! Decompression-bomb guard for PDFs: the decoded size of every stream the text extractor may
//! decode is measured with bounded decoders **before** anything is inflated into memory.
//!
//! `lopdf` inflates object streams while loading and `pdf-extract` inflates each page's
//! content stream in full, so a 256 KiB file whose content stream inflates to 268 MB would
//! otherwise take gigabytes. [`guarded_load`] hands `lopdf` an object filter that decodes each
//! stream into a counting sink (no allocation) through the same filter chain `lopdf` applies
//! (`FlateDecode` with its raw-deflate fallback, `LZWDecode`, `ASCII85Decode`), empties any
//! stream over [`MAX_STREAM_BYTES`] and tallies the total against [`MAX_INFLATED_BYTES`].
//! Image XObjects are skipped: text extraction never decodes them.

use std::cell::Cell;
use std::io::{Read, Write};

use lopdf::{Document, Object, Stream};

/// Largest decoded size of one stream, in bytes (a dense page's content stream is ~50 KB).
pub const MAX_STREAM_BYTES: usize = 4 * 1024 * 1024;
/// Largest decoded size of all non-image streams of a document together, in bytes.
pub const MAX_INFLATED_BYTES: usize = 32 * 1024 * 1024;

/// What a guarded load found over the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// One stream decodes to more than [`MAX_STREAM_BYTES`].
    Stream,
    /// All streams together decode to more than [`MAX_INFLATED_BYTES`].
    Total,
}

thread_local! {
    // lopdf's object filter is a plain `fn` and runs on the loading thread (no rayon feature).
    static TALLY: Cell<(usize, bool)> = const { Cell::new((0, false)) };
}

/// Loads `bytes` with every stream's decoded size bounded. `Ok(Err(_))` when a limit was
/// exceeded (the document is then useless and dropped by the caller).
///
/// # Errors
/// `lopdf`'s own load error.
pub fn guarded_load(bytes: &[u8]) -> Result<Result<Document, Exceeded>, lopdf::Error> {
    TALLY.with(|t| t.set((0, false)));
    let options = lopdf::LoadOptions {
        filter: Some(measure_object),
        ..Default::default()
    };
    let doc = Document::load_from_with_options(bytes, options)?;
    let (total, stream_over) = TALLY.with(Cell::get);
    if stream_over {
        return Ok(Err(Exceeded::Stream));
    }
    if total > MAX_INFLATED_BYTES {
        return Ok(Err(Exceeded::Total));
    }
    Ok(Ok(doc))
}

/// Re-checks every stream of a loaded document (an encrypted file is decrypted while loading,
/// without the object filter).
///
/// # Errors
/// The limit exceeded.
pub fn check_loaded(doc: &Document) -> Result<(), Exceeded> {
    let mut total = 0usize;
    for object in doc.objects.values() {
        if let Object::Stream(stream) = object {
            let size = decoded_size(stream, MAX_STREAM_BYTES).ok_or(Exceeded::Stream)?;
            total = total.saturating_add(size);
            if total > MAX_INFLATED_BYTES {
                return Err(Exceeded::Total);
            }
        }
    }
    Ok(())
}

fn measure_object(id: (u32, u16), object: &mut Object) -> Option<((u32, u16), Object)> {
    if let Object::Stream(stream) = object {
        match decoded_size(stream, MAX_STREAM_BYTES) {
            Some(size) => TALLY.with(|t| {
                let (total, over) = t.get();
                t.set((total.saturating_add(size), over));
            }),
            None => {
                // Never inflated later: the load is refused once it returns.
                stream.set_content(Vec::new());
                stream.dict.remove(b"Filter");
                TALLY.with(|t| t.set((t.get().0, true)));
            }
        }
    }
    Some((id, Object::Null))
}

/// The stream's decoded size, `Some(0)` for image XObjects (never decoded for text), `None`
/// when it exceeds `cap`. A filter that fails counts what it decoded before failing, as
/// `lopdf` keeps that much.
fn decoded_size(stream: &Stream, cap: usize) -> Option<usize> {
    let is_image = stream
        .dict
        .get(b"Subtype")
        .and_then(Object::as_name)
        .is_ok_and(|n| n == b"Image");
    let Ok(filters) = stream.filters() else {
        return (stream.content.len() <= cap || is_image).then_some(stream.content.len());
    };
    if is_image {
        return Some(0);
    }
    let Some((last, first)) = filters.split_last() else {
        return Some(stream.content.len());
    };
    let mut data = std::borrow::Cow::Borrowed(stream.content.as_slice());
    for filter in first {
        let mut out = Bounded::vec(cap);
        decode(filter, &data, &mut out).ok()?;
        data = std::borrow::Cow::Owned(out.into_vec()?);
    }
    let mut sink = Bounded::count(cap);
    decode(last, &data, &mut sink).ok()?;
    Some(sink.written)
}

/// Decodes `input` through one filter into `out`. `Err` only when `out` refused (over its cap).
fn decode(filter: &[u8], input: &[u8], out: &mut Bounded) -> Result<(), ()> {
    match filter {
        b"FlateDecode" => {
            let zlib = copy(flate2::read::ZlibDecoder::new(input), out)?;
            // lopdf retries a zlib stream that produced nothing as raw deflate.
            if zlib == 0 && input.len() > 2 {
                copy(flate2::read::DeflateDecoder::new(&input[2..]), out)?;
            }
            Ok(())
        }
        b"LZWDecode" => {
            let mut decoder =
                weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
            let result = decoder.into_stream(&mut *out).decode_all(input);
            if out.over {
                return Err(());
            }
            drop(result);
            Ok(())
        }
        b"ASCII85Decode" => out.write_all(&ascii85(input)).map_err(|_| ()),
        // lopdf decodes no other filter: the content is used as it is, or not at all.
        _ => out.write_all(input).map_err(|_| ()),
    }
}

/// ASCII85 as `lopdf` reads it (5 characters → 4 bytes, `z` for four zeros, `~>` ends it; an
/// invalid character ends the data). It shrinks, so its input bounds its output.
fn ascii85(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let (mut group, mut count) = (0u64, 0usize);
    for &ch in input.strip_suffix(b"~>").unwrap_or(input) {
        match ch {
            b'z' if count == 0 => out.extend_from_slice(&[0; 4]),
            c if c.is_ascii_whitespace() => {}
            b'!'..=b'u' => {
                group = group * 85 + u64::from(ch - b'!');
                count += 1;
                if count == 5 {
                    out.extend_from_slice(&(group as u32).to_be_bytes());
                    (group, count) = (0, 0);
                }
            }
            _ => break,
        }
    }
    if count > 1 {
        for _ in count..5 {
            group = group * 85 + 84;
        }
        out.extend_from_slice(&(group as u32).to_be_bytes()[..count - 1]);
    }
    out
}

/// Copies what `reader` yields into `out`; `Err` when `out` is over its cap. A read error
/// (corrupt data) ends the copy like the end of the stream.
fn copy(mut reader: impl Read, out: &mut Bounded) -> Result<usize, ()> {
    let mut buf = [0u8; 16 * 1024];
    let before = out.written;
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => return Ok(out.written - before),
            Ok(n) => out.write_all(&buf[..n]).map_err(|_| ())?,
        }
    }
}

/// A writer that keeps (or only counts) at most `cap` bytes and fails past it.
struct Bounded {
    cap: usize,
    written: usize,
    kept: Option<Vec<u8>>,
    over: bool,
}

impl Bounded {
    fn count(cap: usize) -> Self {
        Self {
            cap,
            written: 0,
            kept: None,
            over: false,
        }
    }

    fn vec(cap: usize) -> Self {
        Self {
            kept: Some(Vec::new()),
            ..Self::count(cap)
        }
    }

    fn into_vec(self) -> Option<Vec<u8>> {
        self.kept
    }
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written + buf.len() > self.cap {
            self.over = true;
            return Err(std::io::Error::other("decoded size over the limit"));
        }
        self.written += buf.len();
        if let Some(kept) = &mut self.kept {
            kept.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap_or_default();
        e.finish().unwrap_or_default()
    }

    fn stream(filter: &str, content: Vec<u8>) -> Stream {
        Stream::new(lopdf::dictionary! { "Filter" => filter }, content)
    }

    #[test]
    fn decoded_sizes_are_measured_and_capped() {
        let data = vec![b'x'; 100_000];
        assert_eq!(
            decoded_size(&stream("FlateDecode", flate(&data)), 1 << 20),
            Some(100_000)
        );
        assert_eq!(
            decoded_size(&stream("FlateDecode", flate(&data)), 50_000),
            None
        );
        // Raw deflate behind a broken zlib header, as lopdf's fallback reads it.
        let mut broken = flate(&data);
        broken[0] = 0;
        assert_eq!(decoded_size(&stream("FlateDecode", broken), 50_000), None);
        let image = Stream::new(
            lopdf::dictionary! { "Filter" => "FlateDecode", "Subtype" => "Image" },
            flate(&data),
        );
        assert_eq!(decoded_size(&image, 10), Some(0));
    }

    #[test]
    fn lzw_is_capped_too() {
        let data = vec![b'y'; 200_000];
        let mut encoder = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
        let lzw = encoder.encode(&data).unwrap_or_default();
        assert_eq!(
            decoded_size(&stream("LZWDecode", lzw.clone()), 1 << 20),
            Some(200_000)
        );
        assert_eq!(decoded_size(&stream("LZWDecode", lzw), 1000), None);
    }
}
