//! From the parsed multipart parts to what the pipeline needs: the image
//! bytes (field `file`) and the optional crop box (`crop_x/y/w/h`).

use crate::envelope::RequestError;
use crate::imaging::CropBox;
use crate::multipart::Part;

/// The upload as the pipeline takes it.
#[derive(Debug)]
pub struct UploadForm<'a> {
    pub file: &'a [u8],
    pub crop: Option<CropBox>,
}

const CROP_FIELDS: [&str; 4] = ["crop_x", "crop_y", "crop_w", "crop_h"];

/// Picks the `file` part and the crop fields; other parts are ignored.
pub fn read_form<'a>(parts: &[Part<'a>], max_upload_bytes: u64) -> Result<UploadForm<'a>, RequestError> {
    let file = parts.iter().find(|p| p.name == "file").ok_or(RequestError::MissingFile)?.data;
    if file.is_empty() {
        return Err(RequestError::EmptyFile);
    }
    if file.len() as u64 > max_upload_bytes {
        return Err(RequestError::TooLarge { limit: max_upload_bytes, actual: Some(file.len() as u64) });
    }

    let mut values: [Option<u32>; 4] = [None; 4];
    for (slot, field) in values.iter_mut().zip(CROP_FIELDS) {
        let Some(part) = parts.iter().find(|p| p.name == field) else { continue };
        let text = std::str::from_utf8(part.data).map_err(|_| RequestError::BadCropField { field })?;
        let text = text.trim();
        if text.is_empty() {
            continue; // an empty field from a form is "not sent"
        }
        // Crop tools may send "12.0"; accept integral decimals only.
        let n = text
            .parse::<u32>()
            .ok()
            .or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u32::MAX as f64)
                    .map(|f| f as u32)
            })
            .ok_or(RequestError::BadCropField { field })?;
        *slot = Some(n);
    }
    let crop = match values {
        [None, None, None, None] => None,
        [Some(x), Some(y), Some(w), Some(h)] => Some(CropBox { x, y, w, h }),
        _ => return Err(RequestError::IncompleteCrop),
    };
    Ok(UploadForm { file, crop })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part<'a>(name: &str, data: &'a [u8]) -> Part<'a> {
        Part { name: name.into(), filename: None, content_type: None, data }
    }

    #[test]
    fn file_and_crop() {
        let parts = [
            part("crop_x", b"1"),
            part("crop_y", b"2"),
            part("crop_w", b" 30 "),
            part("crop_h", b"40.0"),
            part("other", b"x"),
            part("file", b"img"),
        ];
        let f = read_form(&parts, 100).unwrap();
        assert_eq!(f.file, b"img");
        assert_eq!(f.crop, Some(CropBox { x: 1, y: 2, w: 30, h: 40 }));
    }

    #[test]
    fn errors() {
        assert_eq!(read_form(&[part("avatar", b"x")], 10).unwrap_err(), RequestError::MissingFile);
        assert_eq!(read_form(&[part("file", b"")], 10).unwrap_err(), RequestError::EmptyFile);
        assert_eq!(
            read_form(&[part("file", b"0123456789a")], 10).unwrap_err(),
            RequestError::TooLarge { limit: 10, actual: Some(11) }
        );
        assert_eq!(
            read_form(&[part("file", b"x"), part("crop_x", b"-1")], 10).unwrap_err(),
            RequestError::BadCropField { field: "crop_x" }
        );
        assert_eq!(
            read_form(&[part("file", b"x"), part("crop_x", b"1")], 10).unwrap_err(),
            RequestError::IncompleteCrop
        );
    }
}
