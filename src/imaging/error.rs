//! Everything that can go wrong between the uploaded bytes and the avatar.
//!
//! Each message says what is wrong with *this* file and what would be
//! accepted, so the member can act on it ([`UserFacing`], Chinese by
//! default, English on request, each entirely in its language).
//! `Display` is the log's text: English, with the technical detail (a
//! decoder's own error message) that members never see.

use std::fmt;

use super::format::{OutputFormat, SourceFormat, ACCEPTED_FORMATS};
use super::options::CropBox;
use crate::heap::MEMORY_BOUND;
use crate::i18n::{Lang, UserFacing};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Zero bytes.
    #[error("empty file")]
    Empty,
    /// Not one of the accepted formats; `looks_like` names what it seems to
    /// be when that is cheap to tell.
    #[error("not an image of an accepted format{}", looks_like.map_or(String::new(), |k| format!(" (it looks like {k})")))]
    Unsupported { looks_like: Option<Lookalike> },
    /// A format the operator has turned off (`HEIC=off`).
    #[error("{format} is turned off on this service")]
    FormatOff { format: SourceFormat },
    /// A known format in a variant the decoders do not handle.
    #[error("unsupported {format} variant: {variant}")]
    UnsupportedVariant { format: SourceFormat, variant: Variant },
    /// Width × height above `limit` (`MAX_PIXELS`).
    #[error("{width}×{height} is over the pixel limit of {limit}")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    /// One side longer than `max`, or zero.
    #[error("invalid size {width}×{height} (each side 1 to {max})")]
    BadDimensions { width: u32, height: u32, max: u32 },
    /// Would need more memory to decode than an upload may use; `max_mp`
    /// is the largest size (megapixels) of this kind of file that fits.
    #[error("{format}{} {width}×{height} needs more memory than its decode budget (it fits up to {max_mp} MP)", kind.map_or(String::new(), |k| format!(" ({k})")))]
    TooMuchMemory { format: SourceFormat, kind: Option<Kind>, width: u32, height: u32, max_mp: u64 },
    /// Decoding asked for more memory than an upload may use although the
    /// header's size fits: a file built so (e.g. a lossless WebP declaring
    /// tens of thousands of Huffman tables). Found by the heap ceiling
    /// (`crate::heap`), not by an estimate.
    #[error("{format} {width}×{height}: decoding allocated past the heap ceiling")]
    HeapExhausted { format: SourceFormat, width: u32, height: u32 },
    /// Decoding would take more work than a file of this size may cost
    /// (`imaging::work`): `bytes` is the file's size, `max_pixels` the
    /// largest image of this kind its budget decodes.
    #[error("{format} of {bytes} bytes declares {width}×{height}: over its work budget (at most {max_pixels} pixels)")]
    TooMuchWork { format: SourceFormat, width: u32, height: u32, bytes: u64, max_pixels: u64 },
    /// Truncated or corrupt data. `detail` (our check's finding, or the
    /// decoder's own message) is for the log only.
    #[error("{format} damaged: {detail}")]
    Damaged { format: SourceFormat, detail: String },
    /// Crop box with zero width or height.
    #[error("empty crop box {crop:?}")]
    CropEmpty { crop: CropBox },
    /// Crop box not inside the (upright) image.
    #[error("crop box {crop:?} outside the upright {width}×{height} image")]
    CropOutside { crop: CropBox, width: u32, height: u32 },
    /// The service's own settings are out of what the pipeline can do
    /// (the settings check their ranges first; this is the pipeline's guard).
    #[error("{}={value} is out of the pipeline's range", option.setting())]
    BadOption { option: PipelineOption, value: u64 },
    /// The encoder failed (should not happen; internal). `detail` for logs.
    #[error("{format} encoding failed: {detail}")]
    Encode { format: OutputFormat, detail: String },
    /// An animation over one of the animation limits (`limits::MAX_FRAMES`,
    /// `MAX_ANIMATION_PIXELS`, `MAX_ANIMATED_BYTES`).
    #[error("{format} animation over its limit: {over}")]
    AnimationTooBig { format: SourceFormat, over: AnimationLimit },
}

/// Which limit an animation is over, with its figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnimationLimit {
    Frames { frames: u32, max: u32 },
    Pixels { width: u32, height: u32, frames: u32, max: u64 },
    Bytes { bytes: u64, max: u64 },
}

impl fmt::Display for AnimationLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnimationLimit::Frames { frames, max } => write!(f, "{frames} pictures (at most {max})"),
            AnimationLimit::Pixels { width, height, frames, max } => {
                write!(f, "{frames} × {width}×{height} pixels (at most {max} in all)")
            }
            AnimationLimit::Bytes { bytes, max } => write!(f, "{bytes} bytes encoded (at most {max})"),
        }
    }
}

/// What a file that is not an image we take looks like, when that is
/// cheap to tell (the things people upload by mistake).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookalike {
    Avif,
    Heic,
    QuickTime,
    IsoMedia,
    Pdf,
    Tiff,
    Photoshop,
    JpegXl,
    Zip,
    Gzip,
    /// A RIFF file other than WebP (WAV, AVI).
    Riff,
    Svg,
    Html,
    Xml,
    JsonOrText,
    Text,
}

impl Lookalike {
    /// Its name in a sentence of `lang`.
    pub fn words(self, lang: Lang) -> &'static str {
        use Lookalike::*;
        match self {
            Avif => "AVIF",
            Heic => "HEIC",
            QuickTime => lang.pick("视频文件（MOV）", "a QuickTime video"),
            IsoMedia => lang.pick("MP4/ISO 媒体文件", "an MP4/ISO media file"),
            Pdf => "PDF",
            Tiff => "TIFF",
            Photoshop => lang.pick("PSD 设计文档", "a Photoshop document (PSD)"),
            JpegXl => lang.pick("JXL 图片（新一代 JPEG）", "JPEG XL"),
            Zip => lang.pick("ZIP 压缩包", "a ZIP archive"),
            Gzip => lang.pick("GZIP 压缩包", "a gzip archive"),
            Riff => lang.pick("RIFF 音视频文件（不是 WebP）", "a RIFF file (audio/video), not WebP"),
            Svg => "SVG",
            Html => "HTML",
            Xml => "XML",
            JsonOrText => lang.pick("JSON 或文本文件", "JSON or text"),
            Text => lang.pick("文本文件", "text"),
        }
    }
}

/// A variant of an accepted format that the decoders do not take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    TwelveBit,
    SixteenBit,
    /// Samples the pipeline does not reduce to 8 bits (16-bit, float).
    WideSamples,
    UnusualChannels,
    /// A JPEG whose height comes in a DNL marker after the data.
    HeightAfterData,
    LosslessOrHierarchical,
    ArithmeticCoding,
    /// Whatever else a decoder reports as unsupported.
    UnusualEncoding,
    /// More JPEG scans than [`MAX_JPEG_SCANS`](super::limits::MAX_JPEG_SCANS).
    TooManyScans,
    /// AVIF/HEIC: more than one coded picture where one is expected
    /// (hidden AV1 frames, layers, a second HEVC picture in a tile).
    SeveralPictures,
    /// AVIF/HEIC: an image sequence (animation) without a still image.
    Sequence,
}

impl Variant {
    /// Its name in a sentence of `lang`.
    pub fn words(self, lang: Lang) -> &'static str {
        use Variant::*;
        match self {
            TwelveBit => lang.pick("12 位", "12-bit"),
            SixteenBit => lang.pick("16 位", "16-bit"),
            WideSamples => lang.pick("16 位或浮点采样", "16-bit or floating-point samples"),
            UnusualChannels => lang.pick("非常规颜色通道", "unusual colour channels"),
            HeightAfterData => lang.pick("高度在数据之后定义（DNL）", "height defined after the data (DNL)"),
            LosslessOrHierarchical => lang.pick("无损或分层编码", "lossless or hierarchical"),
            ArithmeticCoding => lang.pick("算术编码", "arithmetic coding"),
            UnusualEncoding => lang.pick("非常规编码", "an unusual encoding"),
            TooManyScans => lang.pick("扫描段过多", "too many scans"),
            SeveralPictures => lang.pick("一张图片中含有多帧画面", "several pictures in one image"),
            Sequence => lang.pick("图像序列（动画）", "an image sequence (animation)"),
        }
    }
}

/// A kind of file whose decoder holds the whole image, with a memory cap
/// of its own (named in the refusal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Progressive,
    Interlaced,
    Lossless,
    Animated,
}

impl Kind {
    /// Its name before the format's in a sentence of `lang`.
    pub fn words(self, lang: Lang) -> &'static str {
        use Kind::*;
        match self {
            Progressive => lang.pick("渐进式", "progressive"),
            Interlaced => lang.pick("隔行扫描", "interlaced"),
            Lossless => lang.pick("无损", "lossless"),
            Animated => lang.pick("动画", "animated"),
        }
    }
}

/// The pipeline's options that come from a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipelineOption {
    Size,
    Quality,
    MaxPixels,
}

impl PipelineOption {
    /// The setting it comes from.
    pub fn setting(self) -> &'static str {
        match self {
            PipelineOption::Size => "AVATAR_SIZE",
            PipelineOption::Quality => "OUTPUT_QUALITY",
            PipelineOption::MaxPixels => "MAX_PIXELS",
        }
    }
}

impl fmt::Display for Lookalike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.words(Lang::En))
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.words(Lang::En))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.words(Lang::En))
    }
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
                let kind = kind.words(lang);
                if zh {
                    format!("不支持的文件格式：该文件看起来是 {kind}，不是本站支持的图片格式。请上传 {ACCEPTED_FORMATS} 格式的图片")
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
            UnsupportedVariant { format, variant } => {
                let (f, what) = (format.name(), variant.words(lang));
                if zh {
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
            TooMuchMemory { format, kind, width, height, max_mp } => {
                let f = format.name();
                let fig = megapixels(u64::from(*width) * u64::from(*height));
                if zh {
                    let kind = format!("{}{f}", kind.map_or("", |k| k.words(lang)));
                    format!("图片太大，无法处理：这张 {kind} 图片为 {width}×{height} = {fig}，此类图片最大支持 {max_mp} MP。请缩小尺寸，或另存为普通（非渐进式）JPEG 后再上传")
                } else {
                    let kind = kind.map_or(f.to_string(), |k| format!("{} {f}", k.words(lang)));
                    format!("The image is too large to process: this {kind} is {width}×{height} = {fig}; images of this kind can be at most {max_mp} MP. Reduce it, or save it as a standard (baseline) JPEG, and upload again")
                }
            }
            HeapExhausted { format, width, height } => {
                let f = format.name();
                let mb = MEMORY_BOUND / 1_000_000;
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
                    // "an AVIF", "an ICO", "a HEIC" (said "heek"), "a PNG".
                    let a = if matches!(format, SourceFormat::Avif | SourceFormat::Ico) { "an" } else { "a" };
                    format!("The image cannot be processed: this {size} {f} declares {width}×{height} = {fig}, more work to decode than a file of its size may take ({a} {f} of this size may decode to at most {max}). Export it again with an ordinary image editor, or reduce it, and upload again")
                }
            }
            AnimationTooBig { format, over } => {
                let f = format.name();
                let what = match (over, zh) {
                    (AnimationLimit::Frames { frames, max }, true) => {
                        format!("共有 {frames} 帧，动态头像最多 {max} 帧")
                    }
                    (AnimationLimit::Frames { frames, max }, false) => {
                        format!("it has {frames} pictures; an animated avatar may have at most {max}")
                    }
                    (AnimationLimit::Pixels { width, height, frames, max }, true) => format!(
                        "{frames} 帧 {width}×{height} 的画面共 {}，动态头像最多 {}",
                        megapixels(u64::from(*frames) * u64::from(*width) * u64::from(*height)),
                        megapixels(*max)
                    ),
                    (AnimationLimit::Pixels { width, height, frames, max }, false) => format!(
                        "{frames} pictures of {width}×{height} make {}; an animated avatar may have at most {}",
                        megapixels(u64::from(*frames) * u64::from(*width) * u64::from(*height)),
                        megapixels(*max)
                    ),
                    (AnimationLimit::Bytes { bytes, max }, true) => {
                        format!("生成的动态头像有 {}，最多 {}", file_size(*bytes), file_size(*max))
                    }
                    (AnimationLimit::Bytes { bytes, max }, false) => {
                        format!("the animated avatar would be {}; at most {}", file_size(*bytes), file_size(*max))
                    }
                };
                if zh {
                    format!("这个 {f} 动画太大，无法作为动态头像：{what}。请上传更短或更小的动画，或上传静态图片（网站也可设置 ANIMATION=first，只保留第一帧）")
                } else {
                    format!("This animated {f} is too big for an animated avatar: {what}. Upload a shorter or smaller animation, or a still image (the site can also be set to keep only the first picture: ANIMATION=first)")
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
                let CropBox { x, y, w, h } = crop;
                if zh {
                    format!("裁剪区域超出图片范围：区域 x={x} y={y} 宽={w} 高={h}，而图片（按拍摄方向摆正后）为 {width}×{height}")
                } else {
                    format!("The crop box x={x} y={y} w={w} h={h} does not fit inside the image, which is {width}×{height} (upright)")
                }
            }
            BadOption { option, value } => {
                let setting = option.setting();
                if zh {
                    format!("服务配置错误：设置项 {setting} 的值 {value} 超出图片处理所能接受的范围")
                } else {
                    format!(
                        "The service is misconfigured: {setting}={value} is out of the range the image pipeline takes"
                    )
                }
            }
            FormatOff { format } => {
                let f = format.name();
                if zh {
                    format!("本站不接受 {f} 格式的照片，请将照片另存为 JPEG 后再上传（苹果手机：设置 → 相机 → 格式 → 兼容性最佳）")
                } else {
                    format!("This site does not accept {f} photos; save the photo as JPEG and upload it again (on an iPhone: Settings → Camera → Formats → Most Compatible)")
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

impl ImageError {
    /// The refusal of a picture inside a `container` file (a PNG inside an
    /// icon), naming the file the member uploaded.
    pub(crate) fn in_container(self, container: SourceFormat) -> ImageError {
        use ImageError::*;
        match self {
            UnsupportedVariant { variant, .. } => UnsupportedVariant { format: container, variant },
            TooMuchMemory { kind, width, height, max_mp, .. } => {
                TooMuchMemory { format: container, kind, width, height, max_mp }
            }
            HeapExhausted { width, height, .. } => HeapExhausted { format: container, width, height },
            TooMuchWork { width, height, bytes, max_pixels, .. } => {
                TooMuchWork { format: container, width, height, bytes, max_pixels }
            }
            Damaged { format, detail } => Damaged { format: container, detail: format!("{format}: {detail}") },
            AnimationTooBig { over, .. } => AnimationTooBig { format: container, over },
            other => other,
        }
    }
}

impl ImageError {
    /// One of each, with every word its fields can name, for the tests
    /// that read every message.
    #[cfg(test)]
    pub(crate) fn samples() -> Vec<ImageError> {
        use ImageError::*;
        let (f, crop) = (SourceFormat::Jpeg, CropBox { x: 1, y: 2, w: 300, h: 400 });
        let mut all = vec![
            Empty,
            Unsupported { looks_like: None },
            TooManyPixels { width: 30000, height: 30000, limit: 100_000_000 },
            BadDimensions { width: 70000, height: 1, max: 65535 },
            TooMuchMemory { format: SourceFormat::Webp, kind: None, width: 9000, height: 9000, max_mp: 10 },
            HeapExhausted { format: SourceFormat::Webp, width: 16, height: 16 },
            TooMuchWork {
                format: SourceFormat::Png,
                width: 10000,
                height: 10000,
                bytes: 775_000,
                max_pixels: 17_000_000,
            },
            Damaged { format: SourceFormat::Gif, detail: "LZW data ends early".into() },
            Damaged { format: SourceFormat::Ico, detail: "no pictures in the directory".into() },
            CropEmpty { crop: CropBox { w: 0, ..crop } },
            CropOutside { crop, width: 200, height: 100 },
            Encode { format: OutputFormat::Webp, detail: "out of memory".into() },
            FormatOff { format: SourceFormat::Heic },
            AnimationTooBig { format: SourceFormat::Gif, over: AnimationLimit::Frames { frames: 340, max: 100 } },
            AnimationTooBig {
                format: SourceFormat::Webp,
                over: AnimationLimit::Pixels { width: 1200, height: 1200, frames: 90, max: 100_000_000 },
            },
            AnimationTooBig {
                format: SourceFormat::Gif,
                over: AnimationLimit::Bytes { bytes: 3_400_000, max: 2 << 20 },
            },
        ];
        use Lookalike::*;
        for looks_like in [
            Avif, Heic, QuickTime, IsoMedia, Pdf, Tiff, Photoshop, JpegXl, Zip, Gzip, Riff, Svg, Html, Xml, JsonOrText,
            Text,
        ] {
            all.push(Unsupported { looks_like: Some(looks_like) });
        }
        use Variant::*;
        for variant in [
            TwelveBit,
            SixteenBit,
            WideSamples,
            UnusualChannels,
            HeightAfterData,
            LosslessOrHierarchical,
            ArithmeticCoding,
            UnusualEncoding,
            TooManyScans,
            SeveralPictures,
            Sequence,
        ] {
            all.push(UnsupportedVariant { format: f, variant });
        }
        for kind in [Kind::Progressive, Kind::Interlaced, Kind::Lossless, Kind::Animated] {
            all.push(TooMuchMemory { format: f, kind: Some(kind), width: 10000, height: 10000, max_mp: 23 });
        }
        for option in [PipelineOption::Size, PipelineOption::Quality, PipelineOption::MaxPixels] {
            all.push(BadOption { option, value: 0 });
        }
        all
    }
}
