//! Everything that can go wrong between the uploaded bytes and the avatar.
//!
//! Each message says what is wrong with *this* file and what would be
//! accepted, so the user can act on it (Chinese by default, English on
//! request). `Debug` keeps the technical detail for logs; the user never
//! sees decoder internals.

use std::fmt;

use super::format::{OutputFormat, SourceFormat, ACCEPTED_FORMATS};
use super::CropBox;
use crate::envelope::{Lang, UserFacing};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// Zero bytes.
    Empty,
    /// Not one of the accepted formats; `looks_like` names what it seems to
    /// be when that is cheap to tell ("SVG", "HTML", "PDF", "HEIC", ...).
    Unsupported { looks_like: Option<&'static str> },
    /// A known format in a variant the decoder does not handle
    /// (lossless or 12-bit JPEG, ...).
    UnsupportedVariant { format: SourceFormat, what: &'static str },
    /// Width × height above `max_pixels`.
    TooManyPixels { width: u32, height: u32, limit: u64 },
    /// One side longer than [`MAX_DIMENSION`](super::limits::MAX_DIMENSION), or zero.
    BadDimensions { width: u32, height: u32, max: u32 },
    /// Would need more memory to decode than the isolate has; `max_mp` is the
    /// largest size (megapixels) of this kind of file that fits.
    TooMuchMemory { format: SourceFormat, variant: &'static str, width: u32, height: u32, max_mp: u64 },
    /// Decoding asked for more memory than an upload may use although the
    /// header's size fits: a file built so (e.g. a lossless WebP declaring
    /// tens of thousands of Huffman tables). Found by the heap ceiling
    /// (`crate::heap`), not by an estimate.
    HeapExhausted { format: SourceFormat, width: u32, height: u32 },
    /// Decoding would take more work than a file of this size may cost
    /// (`imaging::work`): `bytes` is the file's size, `max_pixels` the
    /// largest image of this kind its budget decodes.
    TooMuchWork { format: SourceFormat, width: u32, height: u32, bytes: u64, max_pixels: u64 },
    /// Truncated or corrupt data. `detail` is for logs only.
    Damaged { format: SourceFormat, detail: String },
    /// Crop box with zero width or height.
    CropEmpty { crop: CropBox },
    /// Crop box not inside the (upright) image.
    CropOutside { crop: CropBox, width: u32, height: u32 },
    /// The service's own settings are out of range (avatar size, quality).
    BadOptions { what: String },
    /// The encoder failed (should not happen; internal). `detail` for logs.
    Encode { format: OutputFormat, detail: String },
}

/// Megapixels as shown to people: "900 MP", "12.5 MP", "0.3 MP".
pub fn megapixels(pixels: u64) -> String {
    let mp = pixels as f64 / 1_000_000.0;
    if mp >= 10.0 || (mp - mp.round()).abs() < 0.05 {
        format!("{} MP", mp.round())
    } else {
        format!("{mp:.1} MP")
    }
}

/// A file size as shown to people: "150 B", "777 KB", "1.2 MB" (SI units,
/// as the MB of the memory limit).
pub fn file_size(bytes: u64) -> String {
    match bytes {
        0..=999 => format!("{bytes} B"),
        1_000..=999_999 => format!("{} KB", (bytes + 500) / 1000),
        _ => {
            let mb = bytes as f64 / 1e6;
            if mb >= 10.0 {
                format!("{} MB", mb.round())
            } else {
                format!("{mb:.1} MB")
            }
        }
    }
}

/// Chinese for the short English terms carried in the variants.
fn zh_term(en: &str) -> &str {
    match en {
        "progressive" => "渐进式",
        "interlaced" => "隔行扫描",
        "lossless" => "无损",
        "animated" => "动画",
        "12-bit" => "12 位",
        "16-bit" => "16 位",
        "16-bit or floating-point samples" => "16 位或浮点采样",
        "unusual colour channels" => "非常规颜色通道",
        "height defined after the data (DNL)" => "高度在数据之后定义（DNL）",
        "lossless or hierarchical" => "无损或分层编码",
        "arithmetic coding" => "算术编码",
        "an unusual encoding" => "非常规编码",
        other => other,
    }
}

impl UserFacing for ImageError {
    fn message(&self, lang: Lang) -> String {
        use ImageError::*;
        let zh = lang == Lang::Zh;
        match self {
            Empty => {
                if zh {
                    format!("上传的文件是空的，请选择图片（支持 {ACCEPTED_FORMATS}）")
                } else {
                    format!("The uploaded file is empty; choose an image ({ACCEPTED_FORMATS})")
                }
            }
            Unsupported { looks_like: Some(kind) } => {
                if zh {
                    format!("不支持的文件格式：该文件看起来是 {kind}，不是图片。请上传 {ACCEPTED_FORMATS} 格式的图片")
                } else {
                    format!("Unsupported file: it looks like {kind}, not a supported image. Upload a {ACCEPTED_FORMATS} image")
                }
            }
            Unsupported { looks_like: None } => {
                if zh {
                    format!("不支持的文件格式，请上传 {ACCEPTED_FORMATS} 格式的图片")
                } else {
                    format!("Unsupported file format; upload a {ACCEPTED_FORMATS} image")
                }
            }
            UnsupportedVariant { format, what } => {
                let f = format.name();
                if zh {
                    let what = zh_term(what);
                    format!("不支持这种 {f} 图片（{what}），请另存为普通 {f} 或 PNG 后再上传")
                } else {
                    format!("This kind of {f} image ({what}) is not supported; save it as a standard {f} or PNG and upload again")
                }
            }
            TooManyPixels { width, height, limit } => {
                let px = u64::from(*width) * u64::from(*height);
                let (fig, lim) = (megapixels(px), megapixels(*limit));
                if zh {
                    format!("图片像素过多：{width}×{height} = {fig}，最大允许 {lim}，请缩小后再上传")
                } else {
                    format!("The image is {width}×{height} = {fig}; the limit is {lim}. Reduce it and upload again")
                }
            }
            BadDimensions { width, height, max } => {
                if zh {
                    format!("图片尺寸无效：{width}×{height}，每边须在 1 到 {max} 像素之间")
                } else {
                    format!("Invalid image size {width}×{height}: each side must be between 1 and {max} pixels")
                }
            }
            TooMuchMemory { format, variant, width, height, max_mp } => {
                let f = format.name();
                let fig = megapixels(u64::from(*width) * u64::from(*height));
                if zh {
                    let kind = format!("{}{f}", zh_term(variant));
                    format!("图片太大，无法处理：这张 {kind} 图片为 {width}×{height} = {fig}，此类图片最大支持 {max_mp} MP。请缩小尺寸，或另存为普通（非渐进式）JPEG 后再上传")
                } else {
                    let kind = if variant.is_empty() { f.to_string() } else { format!("{variant} {f}") };
                    format!("The image is too large to process: this {kind} is {width}×{height} = {fig}; images of this kind can be at most {max_mp} MP. Reduce it, or save it as a standard (baseline) JPEG, and upload again")
                }
            }
            HeapExhausted { format, width, height } => {
                let f = format.name();
                let mb = crate::heap::MEMORY_BOUND / 1_000_000;
                if zh {
                    format!("图片无法处理：这张 {width}×{height} 的 {f} 图片解码所需内存超过单次上传的上限（{mb} MB），文件的编码方式异常。请用常规图片软件重新导出（或另存为 JPEG/PNG）后再上传")
                } else {
                    format!("The image cannot be processed: this {width}×{height} {f} needs more memory to decode than an upload may use ({mb} MB), because of how the file is encoded. Export it again with an ordinary image editor (or save it as JPEG or PNG) and upload again")
                }
            }
            TooMuchWork { format, width, height, bytes, max_pixels } => {
                let f = format.name();
                let size = file_size(*bytes);
                let fig = megapixels(u64::from(*width) * u64::from(*height));
                let max = megapixels(*max_pixels);
                if zh {
                    format!("图片无法处理：这个 {size} 的 {f} 文件声明了 {width}×{height} = {fig}，解码所需的计算量超出了这么小的文件所允许的上限（这种大小的 {f} 最多可解码 {max}）。请用常规图片软件重新导出，或缩小尺寸后再上传")
                } else {
                    format!("The image cannot be processed: this {size} {f} declares {width}×{height} = {fig}, more work to decode than a file of its size may take (a {f} of this size may decode to at most {max}). Export it again with an ordinary image editor, or reduce it, and upload again")
                }
            }
            Damaged { format, .. } => {
                let f = format.name();
                if zh {
                    format!("{f} 文件已损坏或不完整，无法读取，请重新导出或重新上传")
                } else {
                    format!("The {f} file is damaged or incomplete and cannot be read; export or upload it again")
                }
            }
            CropEmpty { crop } => {
                if zh {
                    format!("裁剪区域无效：宽 {} 高 {}，宽和高都必须大于 0", crop.w, crop.h)
                } else {
                    format!("Invalid crop box: width {} and height {}; both must be greater than 0", crop.w, crop.h)
                }
            }
            CropOutside { crop, width, height } => {
                if zh {
                    format!(
                    "裁剪区域超出图片范围：区域 x={} y={} 宽={} 高={}，而图片（按拍摄方向摆正后）为 {width}×{height}",
                    crop.x, crop.y, crop.w, crop.h
                )
                } else {
                    format!(
                    "The crop box x={} y={} w={} h={} does not fit inside the image, which is {width}×{height} (upright)",
                    crop.x, crop.y, crop.w, crop.h
                )
                }
            }
            BadOptions { what } => {
                if zh {
                    format!("服务配置错误：{what}")
                } else {
                    format!("The service is misconfigured: {what}")
                }
            }
            Encode { format, .. } => {
                if zh {
                    format!("生成 {} 头像失败，请稍后重试", format.name())
                } else {
                    format!("Could not create the {} avatar; please try again later", format.name())
                }
            }
        }
    }
}

impl fmt::Display for ImageError {
    /// English text plus the technical detail, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::En))?;
        match self {
            ImageError::Damaged { detail, .. } | ImageError::Encode { detail, .. } => {
                write!(f, " ({detail})")
            }
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ImageError {}
