//! The built-in SVG diagram, laid out by abrfw itself so that it is readable by construction.
//!
//! One column of boxes: each zone is a frame with its name on top, holding its boxes; gateways
//! stand between the frames of the zones they join. An arrow leaves and enters the side of a box
//! through a port of its own: arrows going down run on the right of the column, arrows going up
//! on its left, each in a vertical track (nested: an arrow spanning a shorter one runs outside
//! it). Both ends carry a numbered badge, in the margin between the boxes and the tracks where
//! only the arrow's own line runs; the key beside the picture says, per number, which boxes it
//! joins and what flows it carries (arrows with the same flows share a number).
//!
//! Text is set in a monospace font, so the layout knows the box of every text (advance 0.6 em)
//! and a unit test checks that no text overlaps another text or any line. Coordinates are
//! rounded to a tenth of a pixel and everything is sorted: the output is byte-identical from run
//! to run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Diagram, Kind, Node, Style};

/// Text in boxes.
const FONT: f64 = 12.0;
/// The title.
const TITLE: f64 = 16.0;
/// The key.
const KEY: f64 = 11.0;
/// Numbers in badges.
const BADGE: f64 = 10.0;
/// The advance of one character, in ems. Monospace fonts advance 0.6 em (DejaVu Sans Mono
/// 0.602, Menlo 0.602, Liberation Mono and Courier 0.6); the layout reserves a little more.
const ADVANCE: f64 = 0.61;
/// Above the baseline / below it, in ems, for any character.
const ASCENT: f64 = 0.8;
const DESCENT: f64 = 0.25;
/// Digits stand on the baseline and reach 0.73 em (cap height) in these fonts.
const DIGIT_HEIGHT: f64 = 0.75;
/// Baseline to baseline, in ems.
const LINE: f64 = 1.4;
/// Text to box border.
const PAD: f64 = 8.0;
/// Box border to frame border.
const FRAME: f64 = 10.0;
/// Between boxes in a frame, and between frames and gateways.
const GAP: f64 = 14.0;
const BLOCK_GAP: f64 = 26.0;
/// Between two vertical tracks.
const TRACK: f64 = 9.0;
/// Arrowhead length and half width.
const HEAD: f64 = 7.0;
const HEAD_HALF: f64 = 4.0;
/// Free space around badges.
const BADGE_GAP: f64 = 6.0;
/// Key lines are wrapped at this many characters.
const KEY_COLUMNS: usize = 88;
/// The font list: monospace, whose advance the layout knows.
const FONTS: &str = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace";

/// What a rectangle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Box(Kind),
    Frame,
}

/// One thing drawn.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    /// Left-aligned text on the baseline `y`.
    Text {
        x: f64,
        y: f64,
        size: f64,
        bold: bool,
        text: String,
    },
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        look: Look,
    },
    /// A polyline in an arrow's style.
    Line {
        points: Vec<(f64, f64)>,
        style: Style,
    },
    /// An arrowhead with its tip at (x, y), pointing right (`dir` 1) or left (-1).
    Head {
        x: f64,
        y: f64,
        dir: f64,
        style: Style,
    },
    /// A gateway's tie to a zone it joins.
    Tie { points: Vec<(f64, f64)> },
    /// Where a branch joins a trunk.
    Dot { x: f64, y: f64, style: Style },
    /// A circle around a number, centred at (x, y).
    Badge {
        x: f64,
        y: f64,
        r: f64,
        number: usize,
        style: Style,
    },
}

/// The laid-out picture.
#[derive(Debug)]
struct Picture {
    width: f64,
    height: f64,
    title: String,
    items: Vec<Item>,
}

/// The width of a text: its characters' advance (anything beyond ASCII counted double, which
/// covers wide characters).
fn text_width(text: &str, size: f64) -> f64 {
    let columns: usize = text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    columns as f64 * size * ADVANCE
}

/// The SVG of a diagram.
pub(super) fn svg(d: &Diagram) -> String {
    render(&layout(d))
}

/// A stack of the column: a group (in a frame when it has a label) or a gateway.
#[derive(Debug, Clone, Copy)]
enum Block {
    Group(usize),
    Gateway(usize),
}

/// Groups in an order where those a gateway joins follow each other, each gateway after the
/// first of its groups whose successor it joins too.
fn blocks(d: &Diagram) -> Vec<Block> {
    let n = d.groups.len();
    let joined = |a: usize, b: usize| {
        d.gateways
            .iter()
            .any(|(_, joins)| joins.contains(&a) && joins.contains(&b))
    };
    let mut order: Vec<usize> = Vec::new();
    let mut placed = vec![false; n];
    while order.len() < n {
        let next = order
            .iter()
            .rev()
            .find_map(|&p| (0..n).find(|&g| !placed[g] && joined(p, g)))
            .or_else(|| (0..n).find(|&g| !placed[g]))
            .unwrap_or(0);
        placed[next] = true;
        order.push(next);
    }
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); n.max(1)];
    for (i, (_, joins)) in d.gateways.iter().enumerate() {
        let positions: Vec<usize> = (0..order.len())
            .filter(|&p| joins.contains(&order[p]))
            .collect();
        let at = positions
            .iter()
            .copied()
            .find(|&p| p + 1 < order.len() && joins.contains(&order[p + 1]))
            .or(positions.first().copied())
            .unwrap_or(n.max(1) - 1);
        after[at].push(i);
    }
    let mut blocks = Vec::new();
    for (p, g) in order.iter().enumerate() {
        blocks.push(Block::Group(*g));
        blocks.extend(after[p].iter().map(|&i| Block::Gateway(i)));
    }
    if n == 0 {
        blocks.extend(after[0].iter().map(|&i| Block::Gateway(i)));
    }
    blocks
}

/// A box of the column.
#[derive(Debug)]
struct Placed<'a> {
    node: &'a Node,
    y: f64,
    h: f64,
}

/// Which side of the column an arrow runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Left,
    Right,
}

/// The arrows of one number from some boxes to others, every source to every target (one
/// line of the key), drawn as one vertical trunk with a branch to each box: a port with a badge
/// at each source, a port with a badge and an arrowhead at each target.
#[derive(Debug)]
struct Net {
    number: usize,
    style: Style,
    side: Side,
    /// (box, is the source, port height).
    ports: Vec<(usize, bool, f64)>,
    track: usize,
}

impl Net {
    fn span(&self) -> (f64, f64) {
        let lo = self.ports.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
        let hi = self
            .ports
            .iter()
            .map(|p| p.2)
            .fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    }
}

/// A port on a side of a box: its sort key, its net, its index among the net's ports.
type Port = ([i64; 4], usize, usize);

/// A key entry's lines: (is a line of pairs, its indent in characters, the text).
type KeyLines = Vec<(bool, usize, String)>;

/// Protocols, each with its ports.
type Protocols = Vec<(String, Vec<String>)>;

/// What the key says about one number.
#[derive(Debug)]
struct Entry<'a> {
    style: Style,
    lines: &'a [String],
    pairs: Vec<(usize, usize)>,
}

/// The name of a box in the key: a host's name, or what a class box holds.
fn key_name(node: &Node) -> String {
    match node.lines.as_slice() {
        [count, what, ..] if count.ends_with(" hosts") => format!("{what} ({count})"),
        [first, ..] => first.clone(),
        [] => node.id.clone(),
    }
}

fn layout(d: &Diagram) -> Picture {
    let mut items = Vec::new();

    // The header: title, how to read, the line styles.
    let mut y = 16.0 + ASCENT * TITLE;
    items.push(Item::Text {
        x: 20.0,
        y,
        size: TITLE,
        bold: true,
        text: d.title.clone(),
    });
    let mut header_right = 20.0 + text_width(&d.title, TITLE);
    y += LINE * TITLE;
    for how in [
        "Arrows go from the initiator to the responder (arrowhead): most going down on the \
         right of the boxes, up on their left.",
        "Arrows of one number carry the same flows: the key lists them.",
    ] {
        items.push(Item::Text {
            x: 20.0,
            y,
            size: FONT,
            bold: false,
            text: how.to_owned(),
        });
        header_right = header_right.max(20.0 + text_width(how, FONT));
        y += LINE * FONT;
    }
    y += 4.0;
    let mut x = 20.0;
    for (style, what) in [
        (Style::Operate, "operation"),
        (Style::Install, "remote installation"),
        (Style::Site, "site [[allow]] rule"),
    ] {
        let mid = y - 0.3 * FONT;
        items.push(Item::Line {
            points: vec![(x, mid), (x + 40.0, mid)],
            style,
        });
        items.push(Item::Text {
            x: x + 48.0,
            y,
            size: FONT,
            bold: false,
            text: what.to_owned(),
        });
        x += 48.0 + text_width(what, FONT) + 30.0;
    }
    header_right = header_right.max(x);
    let top = y + DESCENT * FONT + 24.0;

    // The column: boxes in block order.
    let blocks = blocks(d);
    let mut nodes: Vec<(&Node, usize)> = Vec::new();
    for (b, block) in blocks.iter().enumerate() {
        match *block {
            Block::Group(g) => nodes.extend(d.groups[g].1.iter().map(|n| (n, b))),
            Block::Gateway(i) => nodes.push((&d.gateways[i].0, b)),
        }
    }
    let index: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.id.as_str(), i))
        .collect();

    // Arrows, numbered by their flows in column order (arrows with the same flows and style
    // share a number).
    let mut arrows: Vec<(usize, usize, Style, &[String])> = d
        .edges
        .iter()
        .filter_map(|((from, to, style), lines)| {
            Some((
                *index.get(from.as_str())?,
                *index.get(to.as_str())?,
                *style,
                lines.as_slice(),
            ))
        })
        .collect();
    arrows.sort_by_key(|a| (a.0, a.1, a.2));
    let mut numbers: BTreeMap<(Style, &[String]), usize> = BTreeMap::new();
    let mut entries: Vec<Entry> = Vec::new();
    for (from, to, style, lines) in arrows {
        let next = numbers.len() + 1;
        let number = *numbers.entry((style, lines)).or_insert(next);
        if number == next {
            entries.push(Entry {
                style,
                lines,
                pairs: Vec::new(),
            });
        }
        entries[number - 1].pairs.push((from, to));
    }
    let mut nets: Vec<Net> = Vec::new();
    for (e, entry) in entries.iter().enumerate() {
        for (froms, tos) in pair_lines(&entry.pairs) {
            // The side most of its arrows go: down on the right, up on the left.
            let down: usize = froms
                .iter()
                .map(|f| tos.iter().filter(|t| *t >= f).count())
                .sum();
            let side = if 2 * down >= froms.len() * tos.len() {
                Side::Right
            } else {
                Side::Left
            };
            let mut ports: Vec<(usize, bool, f64)> =
                froms.iter().map(|&b| (b, true, 0.0)).collect();
            ports.extend(tos.iter().map(|&b| (b, false, 0.0)));
            nets.push(Net {
                number: e + 1,
                style: entry.style,
                side,
                ports,
                track: 0,
            });
        }
    }

    // Badges fit the longest number.
    let digits = entries.len().max(1).to_string().len() as f64;
    let half_w = digits * BADGE * ADVANCE / 2.0;
    let half_h = DIGIT_HEIGHT * BADGE / 2.0;
    let r = (half_w.hypot(half_h) + 1.5).ceil().max(9.0);
    let slot = 2.0 * r + BADGE_GAP;

    // Ports: each side of a box lists its net ends top to bottom so that nested nets do not
    // cross: first those reaching only above, nearest first; then those reaching both ways; then
    // those reaching only below, farthest first (the same on both sides).
    let mut ports: BTreeMap<(usize, Side), Vec<Port>> = BTreeMap::new();
    for (n, net) in nets.iter().enumerate() {
        let lo = net.ports.iter().map(|p| p.0).min().unwrap_or(0) as i64;
        let hi = net.ports.iter().map(|p| p.0).max().unwrap_or(0) as i64;
        for (k, &(b, source, _)) in net.ports.iter().enumerate() {
            let (up, down) = (b as i64 - lo, hi - b as i64);
            let role = i64::from(!source);
            let key = if down == 0 && up > 0 {
                [0, up, -(n as i64), role]
            } else if up == 0 && down > 0 {
                [2, -down, n as i64, role]
            } else {
                [1, down - up, n as i64, role]
            };
            ports.entry((b, net.side)).or_default().push((key, n, k));
        }
    }
    for list in ports.values_mut() {
        list.sort_unstable();
    }
    let port_count = |b: usize, side: Side| ports.get(&(b, side)).map_or(0, Vec::len);

    // Box width: the widest text, or frame title.
    let mut width: f64 = 120.0;
    for (n, _) in &nodes {
        for l in &n.lines {
            width = width.max(text_width(l, FONT) + 2.0 * PAD);
        }
    }
    for (label, _) in &d.groups {
        if let Some(label) = label {
            width = width.max(text_width(label, FONT) + 2.0 * PAD - 2.0 * FRAME);
        }
    }
    let width = width.ceil();

    // Heights, top to bottom.
    let mut placed: Vec<Placed> = Vec::new();
    let mut frames: Vec<(f64, f64, &str)> = Vec::new();
    // Top and bottom of each block.
    let mut extents: Vec<(f64, f64)> = Vec::new();
    let mut y = top;
    let mut i = 0;
    for (b, block) in blocks.iter().enumerate() {
        let label = match *block {
            Block::Group(g) => d.groups[g].0.as_deref(),
            Block::Gateway(_) => None,
        };
        let frame_top = y;
        if label.is_some() {
            y += 6.0 + LINE * FONT + 6.0;
        }
        let mut first = true;
        while i < nodes.len() && nodes[i].1 == b {
            if !first {
                y += GAP;
            }
            first = false;
            let n = nodes[i].0;
            let text =
                2.0 * PAD + (n.lines.len() as f64 - 1.0) * LINE * FONT + (ASCENT + DESCENT) * FONT;
            let ports = port_count(i, Side::Left).max(port_count(i, Side::Right)) as f64;
            let h = text.max(ports * slot + 8.0).ceil();
            placed.push(Placed { node: n, y, h });
            y += h;
            i += 1;
        }
        if let Some(label) = label {
            y += FRAME;
            frames.push((frame_top, y, label));
        }
        extents.push((frame_top, y));
        y += BLOCK_GAP;
    }
    let bottom = y - BLOCK_GAP;

    // Port heights: each side's ports centred on its box.
    for ((b, _), list) in &ports {
        let p = &placed[*b];
        let start = p.y + (p.h - list.len() as f64 * slot) / 2.0;
        for (k, (_, n, port)) in list.iter().enumerate() {
            nets[*n].ports[*port].2 = start + (k as f64 + 0.5) * slot;
        }
    }

    // Tracks, per side: shortest nets first; a net takes the innermost track outside every
    // net it spans and free of every net it overlaps.
    let mut tracks = [0usize; 2];
    for side in [Side::Left, Side::Right] {
        let mut mine: Vec<usize> = (0..nets.len()).filter(|&n| nets[n].side == side).collect();
        mine.sort_by(|&a, &b| {
            let (sa, sb) = (nets[a].span(), nets[b].span());
            (sa.1 - sa.0)
                .total_cmp(&(sb.1 - sb.0))
                .then(sa.0.total_cmp(&sb.0))
                .then(a.cmp(&b))
        });
        let mut done: Vec<usize> = Vec::new();
        for n in mine {
            let (lo, hi) = nets[n].span();
            let mut least = 0;
            let mut taken = Vec::new();
            for &o in &done {
                let (olo, ohi) = nets[o].span();
                if olo >= lo && ohi <= hi {
                    least = least.max(nets[o].track + 1);
                }
                if olo <= hi + 2.0 && lo <= ohi + 2.0 {
                    taken.push(nets[o].track);
                }
            }
            let mut t = least;
            while taken.contains(&t) {
                t += 1;
            }
            nets[n].track = t;
            tracks[side as usize] = tracks[side as usize].max(t + 1);
            done.push(n);
        }
    }

    // Across: left tracks, the margin, the column, the margin, right tracks, the key.
    let margin = FRAME + 4.0 + 2.0 * r + 8.0;
    let left = 20.0 + margin + tracks[0] as f64 * TRACK;
    let right = left + width;
    let badge_x = |side: Side| match side {
        Side::Left => left - FRAME - 4.0 - r,
        Side::Right => right + FRAME + 4.0 + r,
    };
    let track_x = |side: Side, t: usize| match side {
        Side::Left => left - margin - t as f64 * TRACK,
        Side::Right => right + margin + t as f64 * TRACK,
    };

    // A gateway is tied to the frames next to it that it joins.
    for (b, block) in blocks.iter().enumerate() {
        let Block::Gateway(i) = *block else {
            continue;
        };
        let joins = &d.gateways[i].1;
        let mid = left + width / 2.0;
        if let Some(Block::Group(g)) = b.checked_sub(1).map(|a| blocks[a])
            && joins.contains(&g)
        {
            items.push(Item::Tie {
                points: vec![(mid, extents[b - 1].1), (mid, extents[b].0)],
            });
        }
        if let Some(Block::Group(g)) = blocks.get(b + 1)
            && joins.contains(g)
        {
            items.push(Item::Tie {
                points: vec![(mid, extents[b].1), (mid, extents[b + 1].0)],
            });
        }
    }
    for (frame_top, frame_bottom, label) in &frames {
        items.push(Item::Rect {
            x: left - FRAME,
            y: *frame_top,
            w: width + 2.0 * FRAME,
            h: frame_bottom - frame_top,
            look: Look::Frame,
        });
        items.push(Item::Text {
            x: left - FRAME + PAD,
            y: frame_top + 6.0 + ASCENT * FONT,
            size: FONT,
            bold: true,
            text: (*label).to_owned(),
        });
    }
    for p in &placed {
        items.push(Item::Rect {
            x: left,
            y: p.y,
            w: width,
            h: p.h,
            look: Look::Box(p.node.kind),
        });
        let lines = p.node.lines.len() as f64;
        let text_h = (lines - 1.0) * LINE * FONT + (ASCENT + DESCENT) * FONT;
        let first = p.y + (p.h - text_h) / 2.0 + ASCENT * FONT;
        for (k, l) in p.node.lines.iter().enumerate() {
            items.push(Item::Text {
                x: left + PAD,
                y: first + k as f64 * LINE * FONT,
                size: FONT,
                bold: k == 0,
                text: l.clone(),
            });
        }
    }
    for net in &nets {
        let (edge, out) = match net.side {
            Side::Left => (left, -1.0),
            Side::Right => (right, 1.0),
        };
        let bx = badge_x(net.side);
        let tx = track_x(net.side, net.track);
        let (lo, hi) = net.span();
        items.push(Item::Line {
            points: vec![(tx, lo), (tx, hi)],
            style: net.style,
        });
        for &(_, source, y) in &net.ports {
            let near = if source { edge } else { edge + out * HEAD };
            items.push(Item::Line {
                points: vec![(near, y), (bx - out * r, y)],
                style: net.style,
            });
            items.push(Item::Line {
                points: vec![(bx + out * r, y), (tx, y)],
                style: net.style,
            });
            if !source {
                items.push(Item::Head {
                    x: edge,
                    y,
                    dir: -out,
                    style: net.style,
                });
            }
            // A branch joining the trunk between its ends gets a dot, so that it does not read
            // as a line crossing it.
            if y > lo && y < hi {
                items.push(Item::Dot {
                    x: tx,
                    y,
                    style: net.style,
                });
            }
            items.push(Item::Badge {
                x: bx,
                y,
                r,
                number: net.number,
                style: net.style,
            });
        }
    }
    let column_right = track_x(Side::Right, tracks[1]).max(right + margin);

    // The key, in columns about as tall as the column of boxes.
    let key_x = column_right + 30.0;
    let names: Vec<String> = placed.iter().map(|p| key_name(p.node)).collect();
    let mut key: Vec<(Style, usize, KeyLines)> = Vec::new();
    for (e, entry) in entries.iter().enumerate() {
        let mut lines = Vec::new();
        for (froms, tos) in pair_lines(&entry.pairs) {
            let froms: Vec<&str> = froms.iter().map(|&b| names[b].as_str()).collect();
            let tos: Vec<&str> = tos.iter().map(|&b| names[b].as_str()).collect();
            let pair = format!("{} -> {}", froms.join(", "), tos.join(", "));
            for (k, l) in wrap(&pair, KEY_COLUMNS).into_iter().enumerate() {
                lines.push((true, if k == 0 { 0 } else { 2 }, l));
            }
        }
        for l in merge_ports(entry.lines) {
            for (k, l) in wrap(&l, KEY_COLUMNS - 2).into_iter().enumerate() {
                lines.push((false, if k == 0 { 2 } else { 6 }, l));
            }
        }
        key.push((entry.style, e + 1, lines));
    }
    let entry_height = |lines: usize| ((lines as f64) * LINE * KEY).max(2.0 * r) + 10.0;
    let heading = LINE * FONT + 6.0;
    let total: f64 = key.iter().map(|(_, _, l)| entry_height(l.len())).sum();
    let tallest = key
        .iter()
        .map(|(_, _, l)| entry_height(l.len()))
        .fold(0.0, f64::max);
    let limit = (bottom - top - heading).max(total / 4.0).max(tallest);
    let mut column_x = key_x;
    let mut column_w: f64 = 0.0;
    let mut ky = top + heading;
    let mut key_bottom = ky;
    if !key.is_empty() {
        items.push(Item::Text {
            x: key_x,
            y: top + ASCENT * FONT,
            size: FONT,
            bold: true,
            text: "Key: arrow number, the boxes it joins, its flows".to_owned(),
        });
        column_w = text_width("Key: arrow number, the boxes it joins, its flows", FONT);
    }
    for (style, number, lines) in &key {
        let h = entry_height(lines.len());
        if ky + h > top + heading + limit && ky > top + heading {
            column_x += column_w + 30.0;
            column_w = 0.0;
            ky = top + heading;
        }
        let cy = ky + r;
        items.push(Item::Line {
            points: vec![(column_x, cy), (column_x + 24.0, cy)],
            style: *style,
        });
        let bx = column_x + 24.0 + 4.0 + r;
        items.push(Item::Badge {
            x: bx,
            y: cy,
            r,
            number: *number,
            style: *style,
        });
        let text_x = bx + r + 8.0;
        let mut baseline = cy + (ASCENT - DESCENT) / 2.0 * KEY;
        for (pair, indent, l) in lines {
            let indent = *indent as f64 * KEY * ADVANCE;
            items.push(Item::Text {
                x: text_x + indent,
                y: baseline,
                size: KEY,
                bold: *pair,
                text: l.clone(),
            });
            column_w = column_w.max(text_x + indent + text_width(l, KEY) - column_x);
            baseline += LINE * KEY;
        }
        ky += h;
        key_bottom = key_bottom.max(ky);
    }
    let width = (column_x + column_w + 20.0)
        .max(header_right + 20.0)
        .max(column_right + 20.0);
    let height = bottom.max(key_bottom) + 20.0;
    Picture {
        width: width.ceil(),
        height: height.ceil(),
        title: d.title.clone(),
        items,
    }
}

/// The pairs an arrow number joins as lines "a, b -> x, y": each source with its targets, and
/// sources with the same targets on one line (in column order).
fn pair_lines(pairs: &[(usize, usize)]) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut by_from: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &(from, to) in pairs {
        by_from.entry(from).or_default().push(to);
    }
    let mut lines: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for (from, mut tos) in by_from {
        tos.sort_unstable();
        tos.dedup();
        match lines.iter_mut().find(|(_, t)| *t == tos) {
            Some((froms, _)) => froms.push(from),
            None => lines.push((vec![from], tos)),
        }
    }
    lines
}

/// Label lines `TCP 389: purpose` with the same purpose as one line, ports in order:
/// `TCP 88, 389; UDP 88: purpose`.
fn merge_ports(lines: &[String]) -> Vec<String> {
    // (purpose) -> (protocol -> ports), purposes in the order of their first port.
    let mut parsed: Vec<(String, u32, String, String)> = Vec::new();
    let mut other = Vec::new();
    for l in lines {
        let Some((head, purpose)) = l.split_once(": ") else {
            other.push(l.clone());
            continue;
        };
        let Some((protocol, port)) = head.split_once(' ') else {
            other.push(l.clone());
            continue;
        };
        let start: String = port.chars().take_while(char::is_ascii_digit).collect();
        parsed.push((
            protocol.to_owned(),
            start.parse().unwrap_or(0),
            port.to_owned(),
            purpose.to_owned(),
        ));
    }
    parsed.sort();
    let mut purposes: Vec<(String, Protocols)> = Vec::new();
    for (protocol, _, port, purpose) in parsed {
        let at = match purposes.iter().position(|(p, _)| *p == purpose) {
            Some(at) => at,
            None => {
                purposes.push((purpose, Vec::new()));
                purposes.len() - 1
            }
        };
        let protocols = &mut purposes[at].1;
        match protocols.iter_mut().find(|(p, _)| *p == protocol) {
            Some((_, ports)) => {
                if !ports.contains(&port) {
                    ports.push(port);
                }
            }
            None => protocols.push((protocol, vec![port])),
        }
    }
    let mut out: Vec<String> = purposes
        .into_iter()
        .map(|(purpose, protocols)| {
            let ports: Vec<String> = protocols
                .into_iter()
                .map(|(p, ports)| format!("{p} {}", ports.join(", ")))
                .collect();
            format!("{}: {purpose}", ports.join("; "))
        })
        .collect();
    out.extend(other);
    out
}

/// Breaks a line at spaces into lines of at most `width` characters (a longer word stays
/// whole).
fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for word in line.split(' ') {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut current));
        } else if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    out.push(current);
    out
}

/// A coordinate: to a tenth of a pixel, no trailing `.0`.
fn num(v: f64) -> String {
    let t = format!("{:.1}", v);
    match t.strip_suffix(".0") {
        Some("-0") => "0".to_owned(),
        Some(whole) => whole.to_owned(),
        None => t,
    }
}

/// Text as XML character data or attribute value.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn color(style: Style) -> &'static str {
    match style {
        Style::Operate => "#1a1a1a",
        Style::Install => "#1f5fbf",
        Style::Site => "#b34700",
    }
}

fn dashes(style: Style) -> &'static str {
    match style {
        Style::Operate => "",
        Style::Install => " stroke-dasharray=\"7 4\"",
        Style::Site => " stroke-dasharray=\"2 3\"",
    }
}

fn render(p: &Picture) -> String {
    let mut t = String::new();
    let (w, h) = (num(p.width), num(p.height));
    let _ = writeln!(
        t,
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-family=\"{FONTS}\">"
    );
    let _ = writeln!(t, "<title>{}</title>", xml(&p.title));
    t.push_str("<!-- Generated by abrfw; arrows go from the initiator to the responder. -->\n");
    let _ = writeln!(t, "<rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>");
    // Frames under lines under boxes, badges and text.
    let layer = |i: &Item| match i {
        Item::Rect {
            look: Look::Frame, ..
        } => 0,
        Item::Line { .. } | Item::Head { .. } | Item::Dot { .. } | Item::Tie { .. } => 1,
        Item::Rect { .. } => 2,
        Item::Badge { .. } => 3,
        Item::Text { .. } => 4,
    };
    for l in 0..5 {
        for item in p.items.iter().filter(|i| layer(i) == l) {
            item_svg(&mut t, item);
        }
    }
    t.push_str("</svg>\n");
    t
}

fn item_svg(t: &mut String, item: &Item) {
    match item {
        Item::Text {
            x,
            y,
            size,
            bold,
            text,
        } => {
            let weight = if *bold { " font-weight=\"bold\"" } else { "" };
            let _ = writeln!(
                t,
                "<text x=\"{}\" y=\"{}\" font-size=\"{}\"{weight} fill=\"#1a1a1a\">{}</text>",
                num(*x),
                num(*y),
                num(*size),
                xml(text)
            );
        }
        Item::Rect { x, y, w, h, look } => {
            let (fill, stroke, extra) = match look {
                Look::Frame => ("#f4f6f8", "#8c959f", " stroke-dasharray=\"6 3\""),
                Look::Box(Kind::Host) => ("#ffffff", "#4d4d4d", ""),
                Look::Box(Kind::Network) => ("#fff7e0", "#a07800", ""),
                Look::Box(Kind::Gateway) => ("#e6edfb", "#23408e", " stroke-width=\"2\""),
            };
            let _ = writeln!(
                t,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"5\" fill=\"{fill}\" \
                 stroke=\"{stroke}\"{extra}/>",
                num(*x),
                num(*y),
                num(*w),
                num(*h)
            );
        }
        Item::Line { points, style } => {
            let pts: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
                .collect();
            let _ = writeln!(
                t,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.4\"{}/>",
                pts.join(" "),
                color(*style),
                dashes(*style)
            );
        }
        Item::Head { x, y, dir, style } => {
            let back = x + dir * -HEAD;
            let _ = writeln!(
                t,
                "<polygon points=\"{},{} {},{} {},{}\" fill=\"{}\"/>",
                num(*x),
                num(*y),
                num(back),
                num(y - HEAD_HALF),
                num(back),
                num(y + HEAD_HALF),
                color(*style)
            );
        }
        Item::Tie { points } => {
            let pts: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
                .collect();
            let _ = writeln!(
                t,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"#23408e\" stroke-width=\"4\"/>",
                pts.join(" ")
            );
        }
        Item::Dot { x, y, style } => {
            let _ = writeln!(
                t,
                "<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"{}\"/>",
                num(*x),
                num(*y),
                color(*style)
            );
        }
        Item::Badge {
            x,
            y,
            r,
            number,
            style,
        } => {
            let _ = writeln!(
                t,
                "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"#ffffff\" stroke=\"{}\" \
                 stroke-width=\"1.2\"/>",
                num(*x),
                num(*y),
                num(*r),
                color(*style)
            );
            let _ = writeln!(
                t,
                "<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"middle\" \
                 fill=\"{}\">{number}</text>",
                num(*x),
                num(y + DIGIT_HEIGHT * BADGE / 2.0),
                num(BADGE),
                color(*style)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use abrfw_core::{Catalog, links};

    use super::*;
    use crate::args::GraphGroup;
    use crate::commands::graph::site_diagram;
    use crate::site;

    /// An axis-aligned box: x0, y0, x1, y1.
    type Area = (f64, f64, f64, f64);
    type Segment = ((f64, f64), (f64, f64));

    /// Every text's box (badges as the square around their circle) with what it says, and
    /// every line segment (box and frame borders, arrows, arrowheads).
    fn geometry(p: &Picture) -> (Vec<(Area, String)>, Vec<Segment>) {
        let mut texts = Vec::new();
        let mut segments = Vec::new();
        for item in &p.items {
            match item {
                Item::Text {
                    x, y, size, text, ..
                } => texts.push((
                    (
                        *x,
                        y - ASCENT * size,
                        x + text_width(text, *size),
                        y + DESCENT * size,
                    ),
                    text.clone(),
                )),
                Item::Badge {
                    x, y, r, number, ..
                } => {
                    // The number fits in its circle.
                    let w = text_width(&number.to_string(), BADGE) / 2.0;
                    assert!(w.hypot(DIGIT_HEIGHT * BADGE / 2.0) < *r, "badge {number}");
                    texts.push(((x - r, y - r, x + r, y + r), format!("badge {number}")));
                }
                Item::Rect { x, y, w, h, .. } => {
                    let (x1, y1) = (x + w, y + h);
                    segments.extend([
                        ((*x, *y), (x1, *y)),
                        ((x1, *y), (x1, y1)),
                        ((x1, y1), (*x, y1)),
                        ((*x, y1), (*x, *y)),
                    ]);
                }
                Item::Line { points, .. } | Item::Tie { points } => {
                    segments.extend(points.windows(2).map(|w| (w[0], w[1])));
                }
                // A dot is part of its lines.
                Item::Dot { .. } => {}
                Item::Head { x, y, dir, .. } => {
                    let back = x - dir * HEAD;
                    let (a, b, c) = ((*x, *y), (back, y - HEAD_HALF), (back, y + HEAD_HALF));
                    segments.extend([(a, b), (b, c), (c, a)]);
                }
            }
        }
        (texts, segments)
    }

    /// Whether the segment passes through the inside of the box (Liang-Barsky clipping).
    fn crosses(s: Segment, a: Area) -> bool {
        let ((x0, y0), (x1, y1)) = s;
        let (dx, dy) = (x1 - x0, y1 - y0);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (p, q) in [
            (-dx, x0 - a.0),
            (dx, a.2 - x0),
            (-dy, y0 - a.1),
            (dy, a.3 - y0),
        ] {
            if p == 0.0 {
                if q <= 0.0 {
                    return false;
                }
            } else {
                let t = q / p;
                if p < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
            }
        }
        t0 < t1
    }

    /// Asserts that no text overlaps another or a line, and everything is on the canvas.
    fn assert_readable(p: &Picture, what: &str) {
        let (texts, segments) = geometry(p);
        // A hair inside each box: touching is not overlapping.
        let inner = |a: &Area| (a.0 + 0.25, a.1 + 0.25, a.2 - 0.25, a.3 - 0.25);
        for (i, (a, ta)) in texts.iter().enumerate() {
            assert!(
                a.0 >= 0.0 && a.1 >= 0.0 && a.2 <= p.width && a.3 <= p.height,
                "{what}: {ta:?} leaves the canvas"
            );
            for (b, tb) in &texts[i + 1..] {
                let overlap = a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3;
                assert!(!overlap, "{what}: {ta:?} overlaps {tb:?}");
            }
            let a = inner(a);
            for s in &segments {
                assert!(!crosses(*s, a), "{what}: line {s:?} runs over {ta:?}");
            }
        }
        for ((x0, y0), (x1, y1)) in &segments {
            for (x, y) in [(x0, y0), (x1, y1)] {
                assert!(
                    *x >= 0.0 && *y >= 0.0 && *x <= p.width && *y <= p.height,
                    "{what}: a line leaves the canvas"
                );
            }
        }
    }

    /// Servers and a gateway, and 100 agents of five kinds in the office (the benchmark
    /// site's shape, smaller).
    fn large_site() -> String {
        let mut t = String::from(
            "[[host]]\nname = \"ams\"\nos = \"windows\"\nzone = \"servers\"\n\
             addresses = [\"10.0.0.10\"]\nroles = [\"management-server\", \"license-server\"]\n\
             [[host]]\nname = \"sn\"\nos = \"windows\"\nzone = \"servers\"\n\
             addresses = [\"10.0.0.20\"]\nroles = [\"storage-node\"]\n\
             [[host]]\nname = \"console\"\nos = \"linux\"\nzone = \"office\"\n\
             addresses = [\"10.0.4.11\"]\nroles = [\"management-console\"]\n\
             [[gateway]]\nname = \"fw\"\nos = \"linux\"\nzones = [\"servers\", \"office\"]\n\
             interfaces = { servers = \"eth0\", office = \"eth1\" }\n",
        );
        for i in 0..100 {
            let (os, roles) = ["windows", "windows-legacy", "linux", "appliance", "windows"]
                .iter()
                .zip(["agent", "agent", "agent", "agent-vmware", "agent-exchange"])
                .nth(i % 5)
                .unwrap();
            t.push_str(&format!(
                "[[host]]\nname = \"agent{i}\"\nos = \"{os}\"\nzone = \"office\"\n\
                 addresses = [\"10.16.0.{}\"]\nroles = [\"{roles}\"]\n",
                i + 1
            ));
        }
        t
    }

    fn diagrams(path: Option<&str>) -> Vec<(String, Diagram)> {
        let catalog = Catalog::builtin();
        let topology = match path {
            None => site::load_example(&catalog).unwrap(),
            Some("large") => {
                abrfw_core::topology::parse("large.toml", &large_site(), &catalog).unwrap()
            }
            Some(p) => {
                let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p);
                site::load_path(&path, &catalog).unwrap()
            }
        };
        let links = links(&catalog, &topology).unwrap();
        let mut out = Vec::new();
        for group in [GraphGroup::Host, GraphGroup::Class, GraphGroup::Zone] {
            for phase in [
                None,
                Some(abrfw_core::Phase::Install),
                Some(abrfw_core::Phase::Operate),
            ] {
                out.push((
                    format!("{} {group:?} {phase:?}", path.unwrap_or("example")),
                    site_diagram(&topology, &links, phase, group),
                ));
            }
        }
        out
    }

    #[test]
    fn no_text_overlaps_text_or_lines() {
        for path in [
            None,
            Some("fixtures/topologies/gateway-zones.toml"),
            Some("fixtures/topologies/zones.toml"),
            Some("large"),
        ] {
            for (what, d) in diagrams(path) {
                assert_readable(&layout(&d), &what);
            }
        }
    }

    #[test]
    fn the_example_is_a_few_thousand_pixels_at_most() {
        let (_, d) = diagrams(None).remove(0);
        let p = layout(&d);
        assert!(
            p.width < 3500.0 && p.height < 3500.0,
            "{} x {}",
            p.width,
            p.height
        );
        // Every number is on an arrow and in the key, and merging arrows of the same flows
        // into one trunk leaves fewer badges than arrow ends.
        let numbers = d
            .edges
            .iter()
            .map(|((_, _, style), lines)| (*style, lines))
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let mut count: BTreeMap<usize, usize> = BTreeMap::new();
        for i in &p.items {
            if let Item::Badge { number, .. } = i {
                *count.entry(*number).or_default() += 1;
            }
        }
        // In the key, at a source and at a target at least.
        assert_eq!(count.len(), numbers);
        assert!(count.values().all(|&c| c >= 3), "{count:?}");
        let on_arrows: usize = count.values().sum::<usize>() - numbers;
        assert!(on_arrows < 2 * d.edges.len(), "{on_arrows} badges");
    }

    #[test]
    #[should_panic(expected = "runs over")]
    fn the_check_sees_a_line_over_text() {
        let p = Picture {
            width: 200.0,
            height: 100.0,
            title: String::new(),
            items: vec![
                Item::Text {
                    x: 10.0,
                    y: 50.0,
                    size: FONT,
                    bold: false,
                    text: "hello".to_owned(),
                },
                Item::Line {
                    points: vec![(0.0, 46.0), (100.0, 46.0)],
                    style: Style::Operate,
                },
            ],
        };
        assert_readable(&p, "a line through a word");
    }

    #[test]
    #[should_panic(expected = "overlaps")]
    fn the_check_sees_text_over_text() {
        let text = |x: f64| Item::Text {
            x,
            y: 50.0,
            size: FONT,
            bold: false,
            text: "hello".to_owned(),
        };
        let p = Picture {
            width: 200.0,
            height: 100.0,
            title: String::new(),
            items: vec![text(10.0), text(40.0)],
        };
        assert_readable(&p, "two words");
    }

    #[test]
    fn ports_merge_by_purpose() {
        let lines = [
            "TCP 389: Domain".to_owned(),
            "TCP 53: Name resolution".to_owned(),
            "TCP 88: Domain".to_owned(),
            "UDP 53: Name resolution".to_owned(),
            "UDP 88: Domain".to_owned(),
        ];
        assert_eq!(
            merge_ports(&lines),
            [
                "TCP 53; UDP 53: Name resolution",
                "TCP 88, 389; UDP 88: Domain"
            ]
        );
    }
}
