//! GIF, through the `gif` crate, composited here as browsers show it: each
//! frame drawn over what the previous one left (its disposal: keep, clear
//! to transparent, or restore), frames offset or larger than the logical
//! screen placed where they belong (a first frame larger than the screen
//! grows the canvas, as browsers do), unknown extension blocks skipped.
//!
//! A frame shown for no time (delay 0) followed by one that covers only
//! part of the canvas is not a picture of its own: it builds the next one
//! up with it ("high colour" GIFs draw one picture in many blocks). A
//! frame that covers the whole canvas starts a new picture whatever the
//! delay before it, as browsers play zero-delay animations frame by frame.
//! So the still avatar is the first picture, and an animation's pictures
//! are the canvases after each frame that ends one.
//!
//! A file with no global colour table is given a grey-scale one (index i
//! is grey i), as libvips does, so that a frame without a local table
//! still shows instead of being refused.
//!
//! The `gif` crate reads the blocks and each frame's description; the
//! image data of the frames the block walk found is decoded by [`lzw`],
//! from the file, into rows of palette indices (the crate skips it). A
//! frame the walk did not see, or saw differently, is decoded by the
//! crate.

mod lzw;

use self::lzw::Lzw;

use std::borrow::Cow;
use std::io::Cursor;
use std::num::NonZeroU64;

use gif::{ColorOutput, DecodeOptions, DisposalMethod, MemoryLimit};

use crate::imaging::bytes::le16;
use crate::imaging::colour::Layout;
use crate::imaging::decoding::{damaged, feed_buffer, out_of_memory, shown_ms, Frames, Header, Image, Plan};
use crate::imaging::error::{ImageError, Kind};
use crate::imaging::format::SourceFormat;
use crate::imaging::resize::Region;
use crate::imaging::work::{cost, per_byte};

const F: SourceFormat = SourceFormat::Gif;

/// Most image descriptors the header walk looks at: far more frames than
/// any animation we keep, and the walk stays bounded by the file.
const MAX_FRAMES_WALKED: usize = 100_000;

/// The largest loop count an animated WebP holds (libwebp refuses more):
/// a GIF that repeats 65,535 times plays 65,536 times, near enough.
const MAX_LOOP_COUNT: u32 = 65_535;

/// An opened GIF.
pub(crate) struct Gif<'a> {
    bytes: &'a [u8],
    /// The canvas: the logical screen, grown to hold the first frame.
    header: Header,
    /// The frames' rectangles and delays, from the block walk.
    frames: Vec<FrameInfo>,
    /// Where each walked frame's image data starts (its LZW minimum code
    /// size byte).
    data: Vec<usize>,
    /// Per frame, whether it ends a picture ([`picture_ends`]).
    ends: Vec<bool>,
}

/// A frame's rectangle and, from its graphic control extension when it
/// has one, its delay (1/100 s) and whether it restores what was under it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FrameInfo {
    left: u32,
    top: u32,
    width: u32,
    height: u32,
    delay: u16,
    restores: bool,
}

impl FrameInfo {
    fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

impl<'a> Gif<'a> {
    /// Reads the logical screen and walks the blocks for the frames.
    pub(crate) fn open(b: &'a [u8]) -> Result<Self, ImageError> {
        let w = le16(b, 6).ok_or_else(|| damaged(F, "short header"))?;
        let h = le16(b, 8).ok_or_else(|| damaged(F, "short header"))?;
        let (frames, data) = walk(b);
        let (mut cw, mut ch) = (u32::from(w), u32::from(h));
        if let Some(first) = frames.first() {
            cw = cw.max(first.left + first.width);
            ch = ch.max(first.top + first.height);
        }
        let ends = picture_ends(&frames, cw, ch);
        Ok(Gif { bytes: b, header: Header::upright(cw, ch), frames, data, ends })
    }

    /// Pictures shown.
    fn shown(&self) -> u32 {
        let ends = self.ends.iter().filter(|&&end| end).count();
        ends.max(1).try_into().unwrap_or(u32::MAX)
    }

    /// The frames drawn: up to the first picture, or all of them for an
    /// animation.
    fn drawn_frames(&self, all: bool) -> &[FrameInfo] {
        let first_shown = self.ends.iter().position(|&end| end).map_or(self.frames.len(), |i| i + 1);
        &self.frames[..if all { self.frames.len() } else { first_shown }]
    }

    /// Room for what frames that restore what was under them save: the
    /// largest such rectangle among the frames drawn.
    fn save_room(&self, all: bool) -> u64 {
        let (w, h) = (self.header.width, self.header.height);
        self.drawn_frames(all).iter().filter(|f| f.restores).map(|f| clipped_bytes(f, w, h)).max().unwrap_or(0)
    }

    /// Estimated peak bytes: the RGBA canvas, the room for saving under
    /// restoring frames (frames are decoded a row at a time straight onto
    /// the canvas) and, for a file without a global colour table, the copy
    /// given one ([`with_colour_table`]).
    fn memory_need(&self, all: bool) -> u64 {
        let canvas = 4 * u64::from(self.header.width) * u64::from(self.header.height);
        let copy = if lacks_colour_table(self.bytes) { self.bytes.len() as u64 + 768 } else { 0 };
        canvas + self.save_room(all) + copy
    }

    /// Checks the memory and charges the work of the frames the block walk
    /// found, then starts the player (which charges any frame the walk did
    /// not see).
    fn player(&self, plan: &Plan<'_>, all: bool) -> Result<Player<'a>, ImageError> {
        let kind = if self.shown() > 1 { Some(Kind::Animated) } else { None };
        let pictures = if all { u64::from(self.shown()) } else { 1 };
        let collector_units = pictures * Plan::collector_units(plan.width, plan.height);
        let frame_units = self.drawn_frames(all).iter().map(|f| f.pixels() * cost::GIF_PIXEL).sum();
        let encoder = if all { plan.animation_encoder_bytes() } else { 0 };
        plan.admit_whole_frame(F, kind, self.memory_need(all) + encoder, frame_units, collector_units)?;
        let room = self.save_room(all);
        Player::new(self.bytes, self.header.width, self.header.height, self.walked(), room, plan)
    }

    fn walked(&self) -> Walked {
        Walked { frames: self.frames.clone(), data: self.data.clone(), ends: self.ends.clone() }
    }
}

impl Image for Gif<'_> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn work_rate(&self) -> u64 {
        per_byte::GIF
    }

    fn decode(&self, plan: &Plan<'_>) -> Result<Region, ImageError> {
        let mut player = self.player(plan, false)?;
        if player.next_picture(plan)?.is_none() {
            return Err(damaged(F, "no image in the file"));
        }
        player.region(plan)
    }

    fn frame_count(&self) -> u32 {
        self.shown()
    }

    fn frames<'p>(&'p self, plan: Plan<'p>) -> Result<Box<dyn Frames + 'p>, ImageError> {
        let player = self.player(&plan, true)?;
        Ok(Box::new(GifFrames { player, plan }))
    }
}

/// An animation's pictures, one by one.
struct GifFrames<'a, 'p> {
    player: Player<'a>,
    plan: Plan<'p>,
}

impl Frames for GifFrames<'_, '_> {
    fn loop_count(&self) -> u32 {
        match self.player.decoder.repeat() {
            gif::Repeat::Infinite => 0,
            // NETSCAPE2.0's count is of repeats after the first play.
            gif::Repeat::Finite(n) => u32::from(n).saturating_add(1).min(MAX_LOOP_COUNT),
        }
    }

    fn next_frame(&mut self) -> Result<Option<(Region, u32)>, ImageError> {
        match self.player.next_picture(&self.plan)? {
            Some(ms) => Ok(Some((self.player.region(&self.plan)?, ms))),
            None => Ok(None),
        }
    }
}

/// A frame's colours: its own table, if it has one, and its transparent
/// index.
struct Colours {
    local: Option<Vec<u8>>,
    transparent: Option<u8>,
}

/// What the block walk found, for the player.
struct Walked {
    frames: Vec<FrameInfo>,
    data: Vec<usize>,
    ends: Vec<bool>,
}

/// Decodes frames and draws them on the canvas.
struct Player<'a> {
    decoder: gif::Decoder<Cursor<Cow<'a, [u8]>>>,
    /// The file, whose image data [`lzw`] decodes for the frames the walk
    /// found (the decoder skips it).
    file: &'a [u8],
    /// The walk's frames and where their data starts.
    walked_frames: Vec<FrameInfo>,
    data: Vec<usize>,
    width: u32,
    height: u32,
    /// RGBA, transparent where nothing was drawn.
    canvas: Vec<u8>,
    /// What the last frame covered before it was drawn, when it restores
    /// that: its rectangle clipped to the canvas, row after row.
    saved: Vec<u8>,
    /// The most `saved` may hold (admitted with the canvas): a restoring
    /// frame the block walk did not see cannot take more.
    save_room: u64,
    /// The last frame's rectangle and disposal, done before the next frame.
    pending: Option<(FrameInfo, DisposalMethod)>,
    /// One frame row: RGBA from the decoder, or palette indices.
    row: Vec<u8>,
    /// Per frame of the block walk, whether it ends a picture (frames the
    /// walk did not see end one when they show for a while).
    ends: Vec<bool>,
    /// Frames drawn so far.
    drawn: usize,
    finished: bool,
}

/// `bytes`, with a grey-scale global colour table (256 entries, index i
/// grey i) put after the logical screen descriptor when it has none. GIF
/// has no offsets, so the blocks after it need no change.
fn with_colour_table(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !lacks_colour_table(bytes) {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + 768);
    out.extend_from_slice(&bytes[..SCREEN_END]);
    // Global table present, 2^(7 + 1) entries.
    out[10] |= 0x87;
    out.extend((0..=255u8).flat_map(|i| [i; 3]));
    out.extend_from_slice(&bytes[SCREEN_END..]);
    Cow::Owned(out)
}

/// The end of the header and logical screen descriptor.
const SCREEN_END: usize = 13;

/// The logical screen descriptor is whole and says there is no global
/// colour table.
fn lacks_colour_table(bytes: &[u8]) -> bool {
    bytes.len() >= SCREEN_END && bytes[10] & 0x80 == 0
}

impl<'a> Player<'a> {
    fn new(
        bytes: &'a [u8],
        width: u32,
        height: u32,
        walked: Walked,
        save_room: u64,
        plan: &Plan<'_>,
    ) -> Result<Self, ImageError> {
        let mut options = DecodeOptions::new();
        options.set_color_output(ColorOutput::RGBA);
        options.allow_unknown_blocks(true);
        // What the decoder allocates: a row of indices and the extension
        // blocks it keeps (ICC, XMP), which are no larger than the file.
        let limit = NonZeroU64::new(bytes.len() as u64 + (1 << 16)).unwrap_or(NonZeroU64::MIN);
        options.set_memory_limit(MemoryLimit::Bytes(limit));
        let decoder = options.read_info(Cursor::new(with_colour_table(bytes))).map_err(|e| map_err(e, plan))?;
        let canvas_len =
            usize::try_from(u64::from(width) * u64::from(height) * 4).map_err(|_| out_of_memory(F, plan))?;
        let mut canvas = Vec::new();
        canvas.try_reserve_exact(canvas_len).map_err(|_| out_of_memory(F, plan))?;
        canvas.resize(canvas_len, 0);
        Ok(Player {
            decoder,
            file: bytes,
            walked_frames: walked.frames,
            data: walked.data,
            width,
            height,
            canvas,
            saved: Vec::new(),
            save_room,
            pending: None,
            row: Vec::new(),
            ends: walked.ends,
            drawn: 0,
            finished: false,
        })
    }

    /// Draws frames up to the next shown picture: how long it shows, or
    /// `None` after the last.
    fn next_picture(&mut self, plan: &Plan<'_>) -> Result<Option<u32>, ImageError> {
        let mut drawn = false;
        while !self.finished {
            let Some(info) = self.decoder.next_frame_info().map_err(|e| map_err(e, plan))? else {
                self.finished = true;
                break;
            };
            let frame = FrameInfo {
                left: u32::from(info.left),
                top: u32::from(info.top),
                width: u32::from(info.width),
                height: u32::from(info.height),
                delay: info.delay,
                restores: info.dispose == DisposalMethod::Previous,
            };
            let (dispose, interlaced) = (info.dispose, info.interlaced);
            let colours = Colours { local: info.palette.clone(), transparent: info.transparent };
            // The last frame's disposal happens only when another follows:
            // the last picture stays as drawn.
            self.dispose_last();
            if self.drawn >= self.ends.len() {
                let units = frame.pixels() * cost::GIF_PIXEL;
                plan.charge(F, units, plan.work.spent() + units)?;
            }
            if frame.restores {
                self.save_under(&frame, plan)?;
            }
            self.draw(&frame, interlaced, &colours, plan)?;
            self.pending = Some((frame, dispose));
            drawn = true;
            let ends = self.ends.get(self.drawn).copied().unwrap_or(frame.delay > 0);
            self.drawn += 1;
            if ends {
                return Ok(Some(shown_ms(u32::from(frame.delay) * 10)));
            }
        }
        // Frames the walk did not see, at the end, still make a picture.
        Ok(drawn.then(|| shown_ms(0)))
    }

    /// Saves what the frame is about to cover (its rectangle clipped to
    /// the canvas), for its "restore previous" disposal: work and memory
    /// in proportion to the frame, not the canvas.
    fn save_under(&mut self, frame: &FrameInfo, plan: &Plan<'_>) -> Result<(), ImageError> {
        let len = clipped_bytes(frame, self.width, self.height);
        if len > self.save_room {
            return Err(out_of_memory(F, plan));
        }
        let mut saved = std::mem::take(&mut self.saved);
        saved.clear();
        saved.try_reserve_exact(len as usize).map_err(|_| out_of_memory(F, plan))?;
        self.for_each_row(frame, |row| saved.extend_from_slice(row));
        self.saved = saved;
        Ok(())
    }

    /// The last frame's disposal, before the next frame is drawn.
    fn dispose_last(&mut self) {
        match self.pending.take() {
            Some((frame, DisposalMethod::Background)) => {
                self.for_each_row(&frame, |canvas| canvas.fill(0));
            }
            Some((frame, DisposalMethod::Previous)) => {
                let saved = std::mem::take(&mut self.saved);
                let mut rest = saved.as_slice();
                self.for_each_row(&frame, |row| {
                    let (head, tail) = rest.split_at(row.len().min(rest.len()));
                    row[..head.len()].copy_from_slice(head);
                    rest = tail;
                });
                self.saved = saved;
            }
            _ => {}
        }
    }

    /// Decodes the frame a row at a time (in interlaced order when it is
    /// interlaced) and draws each row's opaque pixels (its transparent
    /// index is alpha 0) on the canvas.
    fn draw(
        &mut self,
        frame: &FrameInfo,
        interlaced: bool,
        colours: &Colours,
        plan: &Plan<'_>,
    ) -> Result<(), ImageError> {
        if frame.pixels() == 0 {
            return Ok(());
        }
        // The walk's frame, seen the same by the decoder: its data is ours
        // to decode.
        let data = self.data.get(self.drawn).copied().filter(|_| {
            self.walked_frames.get(self.drawn).is_some_and(|w| {
                (w.left, w.top, w.width, w.height) == (frame.left, frame.top, frame.width, frame.height)
            })
        });
        let row_len = frame.width as usize * if data.is_some() { 1 } else { 4 };
        let mut row = std::mem::take(&mut self.row);
        row.clear();
        row.try_reserve_exact(row_len).map_err(|_| out_of_memory(F, plan))?;
        row.resize(row_len, 0);
        let drawn = match data {
            Some(at) => self.draw_indexed_rows(frame, interlaced, at, colours, &mut row),
            None => self.draw_rows(frame, interlaced, &mut row, plan),
        };
        self.row = row;
        drawn
    }

    /// [`Self::draw_rows`] for a frame whose image data starts at
    /// `file[at]`, decoded by [`lzw`] into palette indices.
    fn draw_indexed_rows(
        &mut self,
        frame: &FrameInfo,
        interlaced: bool,
        at: usize,
        colours: &Colours,
        indices: &mut [u8],
    ) -> Result<(), ImageError> {
        let mut lzw = Lzw::new(self.file, at).map_err(|e| damaged(F, e.to_string()))?;
        let palette: &[u8] = colours.local.as_deref().or(self.decoder.global_palette()).unwrap_or_default();
        // Each index's RGBA; alpha 0 for the transparent index and for
        // indices outside the palette, which leave the canvas as it is.
        let mut rgba = [[0u8; 4]; 256];
        for (index, (px, rgb)) in rgba.iter_mut().zip(palette.chunks_exact(3)).enumerate() {
            if colours.transparent != Some(index as u8) {
                *px = [rgb[0], rgb[1], rgb[2], 255];
            }
        }
        let every_index_drawn = rgba.iter().all(|px| px[3] == 255);
        for y in row_order(frame.height, interlaced) {
            if !lzw.fill(indices).map_err(|e| damaged(F, e.to_string()))? {
                return Err(damaged(F, "image data ends before the frame does"));
            }
            let Some(canvas) = self.canvas_span(frame, y) else { continue };
            let pixels = canvas.chunks_exact_mut(4).zip(indices.iter());
            if every_index_drawn {
                // A full palette and no transparency: a plain lookup.
                pixels.for_each(|(dst, &index)| dst.copy_from_slice(&rgba[usize::from(index)]));
            } else {
                for (dst, &index) in pixels {
                    let px = rgba[usize::from(index)];
                    if px[3] != 0 {
                        dst.copy_from_slice(&px);
                    }
                }
            }
        }
        Ok(())
    }

    fn draw_rows(
        &mut self,
        frame: &FrameInfo,
        interlaced: bool,
        row: &mut [u8],
        plan: &Plan<'_>,
    ) -> Result<(), ImageError> {
        for y in row_order(frame.height, interlaced) {
            // Indices outside the palette are left unwritten: transparent.
            row.fill(0);
            if !self.decoder.fill_buffer(row).map_err(|e| map_err(e, plan))? {
                return Err(damaged(F, "image data ends before the frame does"));
            }
            let Some(canvas) = self.canvas_span(frame, y) else { continue };
            let src = &row[..canvas.len()];
            for (dst, px) in canvas.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                if px[3] != 0 {
                    dst.copy_from_slice(px);
                }
            }
        }
        Ok(())
    }

    /// The canvas pixels (RGBA) that row `y` of the frame covers, clipped
    /// to the canvas; `None` when they are none (the frame's rows are
    /// still read: the data goes on after them).
    fn canvas_span(&mut self, frame: &FrameInfo, y: u32) -> Option<&mut [u8]> {
        let x1 = (frame.left + frame.width).min(self.width);
        let canvas_y = frame.top.checked_add(y).filter(|&cy| cy < self.height)?;
        if frame.left >= x1 {
            return None;
        }
        let start = (canvas_y as usize * self.width as usize + frame.left as usize) * 4;
        Some(&mut self.canvas[start..start + (x1 - frame.left) as usize * 4])
    }

    /// Runs `f` on each canvas row slice the frame covers (clipped to the
    /// canvas).
    fn for_each_row(&mut self, frame: &FrameInfo, mut f: impl FnMut(&mut [u8])) {
        let rows = (frame.top + frame.height).min(self.height).saturating_sub(frame.top);
        for y in 0..rows {
            if let Some(row) = self.canvas_span(frame, y) {
                f(row);
            }
        }
    }

    /// The canvas as it is now, as the plan's crop region.
    fn region(&self, plan: &Plan<'_>) -> Result<Region, ImageError> {
        let collector = plan.collector(self.width, self.height, Layout::Rgba, None);
        feed_buffer(collector, &self.canvas, self.width, Layout::Rgba, F, plan)
    }
}

/// Per frame, whether it ends a picture on a `width`×`height` canvas: it
/// shows for a while, it is the last, or the next frame covers the whole
/// canvas.
fn picture_ends(frames: &[FrameInfo], width: u32, height: u32) -> Vec<bool> {
    let covers = |f: &FrameInfo| f.left == 0 && f.top == 0 && f.width >= width && f.height >= height;
    (0..frames.len()).map(|i| frames[i].delay > 0 || frames.get(i + 1).is_none_or(covers)).collect()
}

/// Bytes of a frame's rectangle clipped to a `width`×`height` canvas, as
/// RGBA.
fn clipped_bytes(f: &FrameInfo, width: u32, height: u32) -> u64 {
    let cw = (f.left + f.width).min(width).saturating_sub(f.left.min(width));
    let ch = (f.top + f.height).min(height).saturating_sub(f.top.min(height));
    4 * u64::from(cw) * u64::from(ch)
}

/// The frame rows in the order the data holds them: top to bottom, or the
/// four passes of an interlaced frame.
fn row_order(height: u32, interlaced: bool) -> impl Iterator<Item = u32> {
    let passes: &[(u32, usize)] = if interlaced { &[(0, 8), (4, 8), (2, 4), (1, 2)] } else { &[(0, 1)] };
    passes.iter().flat_map(move |&(start, step)| (start..height).step_by(step))
}

fn map_err(e: gif::DecodingError, plan: &Plan<'_>) -> ImageError {
    match e {
        gif::DecodingError::MemoryLimit | gif::DecodingError::OutOfMemory => out_of_memory(F, plan),
        other => damaged(F, other.to_string()),
    }
}

/// The frames' rectangles and delays: the blocks after the logical screen
/// and its colour table, up to the trailer or the first thing that is not
/// a block (the decoder decides what is damaged).
fn walk(b: &[u8]) -> (Vec<FrameInfo>, Vec<usize>) {
    let (mut frames, mut data) = (Vec::new(), Vec::new());
    let Some(&flags) = b.get(10) else { return (frames, data) };
    let mut pos = 13usize;
    if flags & 0x80 != 0 {
        pos += 3 << ((flags & 7) + 1);
    }
    let mut control = FrameInfo::default();
    let skip_sub_blocks = |mut pos: usize| -> Option<usize> {
        loop {
            let n = usize::from(*b.get(pos)?);
            pos += 1 + n;
            if n == 0 {
                return Some(pos);
            }
        }
    };
    while frames.len() < MAX_FRAMES_WALKED {
        match b.get(pos) {
            Some(0x2C) => {
                let (Some(left), Some(top), Some(width), Some(height), Some(&packed)) =
                    (le16(b, pos + 1), le16(b, pos + 3), le16(b, pos + 5), le16(b, pos + 7), b.get(pos + 9))
                else {
                    break;
                };
                frames.push(FrameInfo {
                    left: left.into(),
                    top: top.into(),
                    width: width.into(),
                    height: height.into(),
                    ..std::mem::take(&mut control)
                });
                pos += 10;
                if packed & 0x80 != 0 {
                    pos += 3 << ((packed & 7) + 1);
                }
                data.push(pos);
                // The LZW minimum code size, then the data's sub-blocks.
                match skip_sub_blocks(pos + 1) {
                    Some(next) => pos = next,
                    None => break,
                }
            }
            Some(0x21) => {
                if b.get(pos + 1) == Some(&0xF9) {
                    // As the decoder reads it: the last sub-block, if 4 bytes.
                    let (mut at, mut last) = (pos + 2, None);
                    while let Some(&n) = b.get(at).filter(|&&n| n != 0) {
                        last = Some((at + 1, n));
                        at += 1 + usize::from(n);
                    }
                    if let Some((data, 4)) = last {
                        control = FrameInfo {
                            delay: le16(b, data + 1).unwrap_or(0),
                            restores: b.get(data).is_some_and(|packed| (packed >> 2) & 7 == 3),
                            ..FrameInfo::default()
                        };
                    }
                }
                match skip_sub_blocks(pos + 2) {
                    Some(next) => pos = next,
                    None => break,
                }
            }
            Some(0x3B) | None => break,
            // Any other byte: the decoder (allowing unknown blocks) reads
            // it as an extension without a label, then its sub-blocks.
            Some(_) => match skip_sub_blocks(pos + 1) {
                Some(next) => pos = next,
                None => break,
            },
        }
    }
    (frames, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GIF of `frames` on a `w`×`h` screen, each (left, top, width,
    /// height, colour index, delay, disposal), palette black, red, green,
    /// blue, index 0 transparent.
    pub(crate) fn gif(w: u16, h: u16, frames: &[(u16, u16, u16, u16, u8, u16, DisposalMethod)]) -> Vec<u8> {
        let mut out = Vec::new();
        let palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255];
        let mut enc = gif::Encoder::new(&mut out, w, h, &palette).unwrap();
        enc.set_repeat(gif::Repeat::Finite(2)).unwrap();
        for &(left, top, fw, fh, colour, delay, dispose) in frames {
            let mut f = gif::Frame::from_indexed_pixels(fw, fh, vec![colour; fw as usize * fh as usize], Some(0));
            (f.left, f.top, f.delay, f.dispose) = (left, top, delay, dispose);
            enc.write_frame(&f).unwrap();
        }
        drop(enc);
        out
    }

    #[test]
    fn no_colour_table_at_all_is_grey_scale() {
        // Neither a global nor a local table (Pillow's no_palette.gif):
        // index i shows as grey i, as in libvips, instead of a refusal.
        // Written with a 256-colour global table, which is then taken out.
        let mut out = Vec::new();
        let palette: Vec<u8> = (0..=255u8).flat_map(|i| [255 - i, i, 0]).collect();
        let mut enc = gif::Encoder::new(&mut out, 8, 8, &palette).unwrap();
        enc.write_frame(&gif::Frame::from_indexed_pixels(8, 8, vec![128; 64], None)).unwrap();
        drop(enc);
        assert_eq!(out[10] & 0x87, 0x87);
        out.drain(13..13 + 768);
        out[10] &= 0x7F;
        let (_, img) = crate::imaging::tests::png_avatar(&out, 8);
        assert!(img.pixels().all(|p| p.0 == [128, 128, 128, 255]), "{:?}", img.get_pixel(0, 0));
        // A file with its own table is read as it is.
        let own = gif(4, 4, &[(0, 0, 4, 4, 2, 0, DisposalMethod::Keep)]);
        assert!(matches!(with_colour_table(&own), Cow::Borrowed(_)));
    }

    #[test]
    fn indices_outside_the_palette_are_transparent() {
        // A two-colour table (black, red): the first row is red, the rest
        // index 3, which has no colour. Browsers leave such pixels
        // transparent; so must the avatar, not repeat the row above.
        let mut out = Vec::new();
        let mut enc = gif::Encoder::new(&mut out, 8, 8, &[0, 0, 0, 255, 0, 0]).unwrap();
        let mut indices = vec![3u8; 64];
        indices[..8].fill(1);
        enc.write_frame(&gif::Frame::from_indexed_pixels(8, 8, indices, None)).unwrap();
        drop(enc);
        let (_, img) = crate::imaging::tests::png_avatar(&out, 8);
        assert_eq!(img.get_pixel(3, 0).0, [255, 0, 0, 255]);
        for y in 3..8 {
            assert_eq!(img.get_pixel(3, y).0[3], 0, "row {y}");
        }
    }

    #[test]
    fn the_walk_finds_rectangles_and_delays() {
        let b = gif(8, 8, &[(0, 0, 8, 8, 1, 0, DisposalMethod::Keep), (2, 3, 4, 2, 2, 50, DisposalMethod::Background)]);
        let g = Gif::open(&b).unwrap();
        assert_eq!(g.frames.len(), 2);
        assert_eq!(g.frames[1], FrameInfo { left: 2, top: 3, width: 4, height: 2, delay: 50, restores: false });
        // The zero-delay first block builds the first picture with the second.
        assert_eq!(g.shown(), 1);
        let c = gif(8, 8, &[(0, 0, 8, 8, 1, 10, DisposalMethod::Keep), (0, 0, 8, 8, 2, 0, DisposalMethod::Keep)]);
        assert_eq!(Gif::open(&c).unwrap().shown(), 2);
    }

    #[test]
    fn a_first_frame_larger_than_the_screen_grows_the_canvas() {
        let b = gif(10, 10, &[(0, 0, 16, 16, 1, 0, DisposalMethod::Keep)]);
        assert_eq!(*Gif::open(&b).unwrap().header(), Header::upright(16, 16));
        let off = gif(32, 32, &[(24, 24, 16, 16, 1, 0, DisposalMethod::Keep)]);
        assert_eq!(*Gif::open(&off).unwrap().header(), Header::upright(40, 40));
    }

    #[test]
    fn an_animation_is_admitted_with_room_for_its_encoder() {
        // Two whole-canvas pictures. The still needs the canvas; the
        // animation also the encoder's canvases and output, held while
        // its frames are decoded. At the smallest budget the still fits,
        // the animation is refused; with the encoder's bytes on top, not.
        let b = gif(
            600,
            600,
            &[(0, 0, 600, 600, 1, 10, DisposalMethod::Keep), (0, 0, 600, 600, 2, 10, DisposalMethod::Keep)],
        );
        let g = Gif::open(&b).unwrap();
        let work = crate::imaging::work::Work::for_file(u64::MAX / 4, 1);
        let plan = |budget| Plan {
            x: 0,
            y: 0,
            side: 600,
            width: 600,
            height: 600,
            size: 256,
            space: Default::default(),
            budget,
            work: &work,
            resize_as_decoded: false,
        };
        let (mut lo, mut hi) = (0u64, 256 << 20);
        while hi - lo > 1024 {
            let mid = (lo + hi) / 2;
            if g.decode(&plan(mid)).is_ok() {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        assert!(matches!(g.frames(plan(hi)).err(), Some(ImageError::TooMuchMemory { .. })));
        let with_encoder = hi + plan(hi).animation_encoder_bytes();
        assert!(g.frames(plan(with_encoder)).is_ok());
    }

    fn play(b: &[u8]) -> Vec<(Vec<u8>, Option<u32>)> {
        let g = Gif::open(b).unwrap();
        let work = crate::imaging::work::Work::for_file(u64::MAX / 4, 1);
        let plan = Plan {
            x: 0,
            y: 0,
            side: g.header.width.min(g.header.height),
            width: g.header.width,
            height: g.header.height,
            size: 8,
            space: Default::default(),
            budget: 64 << 20,
            work: &work,
            resize_as_decoded: false,
        };
        let room = g.save_room(true);
        // Every picture twice: frames decoded by `lzw` from the walk's
        // offsets, and by the decoder (no offsets): the same canvases.
        let mut both = [true, false].map(|own_lzw| {
            let mut walked = g.walked();
            if !own_lzw {
                walked.data.clear();
            }
            let mut p = Player::new(b, g.header.width, g.header.height, walked, room, &plan).unwrap();
            let mut out = Vec::new();
            while let Some(ms) = p.next_picture(&plan).unwrap() {
                out.push((p.canvas.clone(), Some(ms)));
            }
            out
        });
        assert!(both[0] == both[1], "the LZW decoder and the gif crate's drew different pictures");
        std::mem::take(&mut both[0])
    }

    /// The colour of canvas pixel (x, y) of a `w`-wide canvas.
    fn at(canvas: &[u8], w: usize, x: usize, y: usize) -> [u8; 4] {
        canvas[(y * w + x) * 4..][..4].try_into().unwrap()
    }

    #[test]
    fn disposal_as_browsers_do() {
        use DisposalMethod::*;
        let red = [255, 0, 0, 255];
        let green = [0, 255, 0, 255];
        let clear = [0, 0, 0, 0];
        // Keep, then a small green frame: red stays around it.
        let keep = play(&gif(4, 4, &[(0, 0, 4, 4, 1, 10, Keep), (1, 1, 2, 2, 2, 10, Keep)]));
        assert_eq!((at(&keep[1].0, 4, 0, 0), at(&keep[1].0, 4, 1, 1)), (red, green));
        // Background: the first frame's rectangle is cleared to transparent.
        let bg = play(&gif(4, 4, &[(0, 0, 4, 4, 1, 10, Background), (1, 1, 2, 2, 2, 10, Keep)]));
        assert_eq!((at(&bg[1].0, 4, 0, 0), at(&bg[1].0, 4, 1, 1)), (clear, green));
        // Previous: the green frame is undone before the third frame.
        let prev =
            play(&gif(4, 4, &[(0, 0, 4, 4, 1, 10, Keep), (1, 1, 2, 2, 2, 10, Previous), (0, 0, 1, 1, 3, 10, Keep)]));
        assert_eq!(at(&prev[2].0, 4, 1, 1), red, "restored under the green frame");
        assert_eq!(at(&prev[2].0, 4, 0, 0), [0, 0, 255, 255]);
        // Timing: 10 cs shows 100 ms; a zero delay merges into the next picture.
        assert_eq!(keep.iter().map(|p| p.1).collect::<Vec<_>>(), [Some(100), Some(100)]);
        let merged = play(&gif(4, 4, &[(0, 0, 2, 4, 1, 0, Keep), (2, 0, 2, 4, 2, 25, Keep)]));
        assert_eq!(merged.len(), 1);
        assert_eq!((at(&merged[0].0, 4, 0, 0), at(&merged[0].0, 4, 3, 0), merged[0].1), (red, green, Some(250)));
    }

    #[test]
    fn a_whole_canvas_frame_starts_a_picture_after_a_zero_delay() {
        use DisposalMethod::Keep;
        // Two whole-canvas frames without delay: an animation, as browsers
        // play it, whose still is the first frame.
        let b = gif(4, 4, &[(0, 0, 4, 4, 1, 0, Keep), (0, 0, 4, 4, 2, 0, Keep)]);
        assert_eq!(Gif::open(&b).unwrap().shown(), 2);
        let pics = play(&b);
        assert_eq!(pics.len(), 2);
        assert_eq!(at(&pics[0].0, 4, 0, 0), [255, 0, 0, 255]);
        assert_eq!(pics[0].1, Some(100), "no delay shows as browsers show it");
    }

    #[test]
    fn a_later_frame_wholly_outside_the_canvas_draws_nothing() {
        use DisposalMethod::Keep;
        for (left, top) in [(10, 0), (0, 10), (200, 200)] {
            let b = gif(4, 4, &[(0, 0, 4, 4, 1, 10, Keep), (left, top, 3, 3, 2, 10, Keep)]);
            let pics = play(&b);
            assert_eq!(pics.len(), 2);
            assert_eq!(pics[1].0, pics[0].0, "frame at ({left}, {top})");
        }
    }

    #[test]
    fn restoring_saves_only_what_the_frame_covers() {
        use DisposalMethod::*;
        let b = gif(64, 64, &[(0, 0, 64, 64, 1, 10, Keep), (5, 5, 2, 2, 2, 10, Previous), (0, 0, 1, 1, 3, 10, Keep)]);
        let g = Gif::open(&b).unwrap();
        assert_eq!(g.save_room(true), 16, "a 2×2 rectangle, not the 64×64 canvas");
        let pics = play(&b);
        assert_eq!(at(&pics[1].0, 64, 5, 5), [0, 255, 0, 255]);
        assert_eq!(at(&pics[2].0, 64, 5, 5), [255, 0, 0, 255], "restored");
    }

    #[test]
    fn the_walk_reads_blocks_as_the_decoder_does() {
        use DisposalMethod::*;
        // A stray byte between blocks: the decoder reads it as an extension
        // without a label and goes on; so must the walk, or the frames
        // after it escape the limits.
        let mut b = gif(4, 4, &[(0, 0, 4, 4, 1, 10, Keep)]);
        b.pop();
        b.extend_from_slice(&[0x01, 0x00]);
        let rest = gif(4, 4, &[(0, 0, 4, 4, 2, 10, Keep), (0, 0, 4, 4, 1, 10, Keep)]);
        let tail = rest.windows(2).position(|w| w == [0x21, 0xF9]).unwrap();
        b.extend_from_slice(&rest[tail..]);
        assert_eq!(Gif::open(&b).unwrap().frames.len(), 3);
        assert_eq!(play(&b).len(), 3);
        // A graphic control extension in two sub-blocks: the decoder takes
        // the last one ("restore previous" here), and so does the walk.
        let mut c = gif(4, 4, &[(0, 0, 4, 4, 1, 0, Keep)]);
        let at = c.windows(3).position(|w| w == [0x21, 0xF9, 0x04]).unwrap();
        c.splice(at..at + 8, [0x21, 0xF9, 0x04, 0x04, 0, 0, 0, 0x04, 0x0C, 0, 0, 0, 0x00]);
        assert!(Gif::open(&c).unwrap().frames[0].restores);
        assert_eq!(play(&c).len(), 1);
    }

    #[test]
    fn a_loop_count_past_what_webp_holds_is_clamped() {
        use DisposalMethod::Keep;
        let mut out = Vec::new();
        let mut enc = gif::Encoder::new(&mut out, 4, 4, &[0, 0, 0, 255, 0, 0]).unwrap();
        enc.set_repeat(gif::Repeat::Finite(65535)).unwrap();
        for colour in [0, 1] {
            let mut f = gif::Frame::from_indexed_pixels(4, 4, vec![colour; 16], None);
            (f.delay, f.dispose) = (10, Keep);
            enc.write_frame(&f).unwrap();
        }
        drop(enc);
        let a = crate::imaging::process(&out, None, &crate::imaging::Options { size: 16, ..Default::default() });
        assert_eq!(a.unwrap().frames, 2);
    }

    #[test]
    fn frames_outside_the_canvas_are_clipped_not_lost() {
        let b = gif(32, 32, &[(24, 24, 16, 16, 1, 0, DisposalMethod::Keep)]);
        let pics = play(&b);
        assert_eq!(pics.len(), 1);
        assert_eq!(at(&pics[0].0, 40, 39, 39), [255, 0, 0, 255], "the grown canvas holds the whole frame");
        assert_eq!(at(&pics[0].0, 40, 0, 0), [0, 0, 0, 0]);
    }
    #[test]
    fn the_transparent_index_leaves_the_canvas_as_it_is() {
        // Red everywhere, then a 4×4 block of the transparent index, then
        // a 2×2 block of green: the second picture is still red under the
        // transparent block.
        let b = gif(
            8,
            8,
            &[
                (0, 0, 8, 8, 1, 10, DisposalMethod::Keep),
                (2, 2, 4, 4, 0, 10, DisposalMethod::Keep),
                (5, 5, 2, 2, 2, 10, DisposalMethod::Keep),
            ],
        );
        let pics = play(&b);
        assert_eq!(pics.len(), 3);
        assert_eq!(at(&pics[1].0, 8, 3, 3), [255, 0, 0, 255]);
        assert_eq!(at(&pics[2].0, 8, 3, 3), [255, 0, 0, 255]);
        assert_eq!(at(&pics[2].0, 8, 5, 5), [0, 255, 0, 255]);
    }
}
