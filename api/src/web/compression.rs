//! The content encodings the service writes itself (bodies it caches are compressed once, not per
//! request): gzip, brotli, zstd and deflate, at levels that keep compressing a large view quick.

use std::io::Write;

use actix_web::web::Bytes;

/// A content encoding of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
    Brotli,
    Zstd,
    /// zlib's format, as HTTP's `deflate` is.
    Deflate,
}

impl Encoding {
    /// The `Content-Encoding` token.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Gzip => "gzip",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
            Self::Deflate => "deflate",
        }
    }
}

/// gzip level 6 (zlib's default); brotli quality 5 and zstd level 3 compress a 20 MB view in
/// well under a second on one core, within a few percent of their best ratios for JSON.
const GZIP_LEVEL: u32 = 6;
const BROTLI_QUALITY: u32 = 5;
const BROTLI_WINDOW: u32 = 22;
const ZSTD_LEVEL: i32 = 3;

/// `body` encoded as `encoding` (as is for identity).
pub(crate) fn encode(body: &[u8], encoding: Encoding) -> std::io::Result<Bytes> {
    let mut out = Vec::with_capacity(body.len() / 6 + 64);
    match encoding {
        Encoding::Identity => return Ok(Bytes::copy_from_slice(body)),
        Encoding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(&mut out, flate2::Compression::new(GZIP_LEVEL));
            encoder.write_all(body)?;
            encoder.finish()?;
        }
        Encoding::Brotli => {
            let mut encoder =
                brotli::CompressorWriter::new(&mut out, 64 * 1024, BROTLI_QUALITY, BROTLI_WINDOW);
            encoder.write_all(body)?;
            encoder.flush()?;
        }
        Encoding::Zstd => {
            zstd::stream::copy_encode(body, &mut out, ZSTD_LEVEL)?;
        }
        Encoding::Deflate => {
            let mut encoder =
                flate2::write::ZlibEncoder::new(&mut out, flate2::Compression::new(GZIP_LEVEL));
            encoder.write_all(body)?;
            encoder.finish()?;
        }
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn every_encoding_decodes_to_the_body() {
        let body = br#"{"seeds":[],"globalPnodes":[{"id":1,"pubkey":"abc"}]}"#.repeat(100);
        let gzip = encode(&body, Encoding::Gzip).expect("gzip");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, body);

        let br = encode(&body, Encoding::Brotli).expect("br");
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut back)
            .expect("unbrotli");
        assert_eq!(back, body);

        let deflate = encode(&body, Encoding::Deflate).expect("deflate");
        let mut back = Vec::new();
        flate2::read::ZlibDecoder::new(&deflate[..])
            .read_to_end(&mut back)
            .expect("inflate");
        assert_eq!(back, body);

        let zst = encode(&body, Encoding::Zstd).expect("zstd");
        assert_eq!(zstd::decode_all(&zst[..]).expect("unzstd"), body);
        assert!(zst.len() < body.len() / 10 && br.len() < body.len() / 10);
        assert_eq!(encode(&body, Encoding::Identity).expect("identity"), body);
    }
}
