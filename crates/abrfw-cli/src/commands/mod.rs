//! One module per subcommand.

pub mod check;
pub mod compile;
pub mod diff;
pub mod encryption;
pub mod explain;
pub mod flows;
pub mod graph;
pub mod inventory;
pub mod logs;
pub mod query;
pub mod releases;
pub mod schema;
pub mod services;
pub mod verify;

/// A plain-text table: the header, then one line per row, columns left-aligned and two spaces
/// apart, the last column unpadded and no trailing blanks (`flows` and `releases` print it).
pub fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let mut line = |cells: [&str; N]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                l.push_str(cell);
            } else {
                l.push_str(cell);
                let pad = widths[i] - cell.chars().count() + 2;
                l.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.push_str(l.trim_end());
        text.push('\n');
    };
    line(header);
    for row in rows {
        line(row.each_ref().map(String::as_str));
    }
    text
}
