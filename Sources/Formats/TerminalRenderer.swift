// Draws a TextTerminal into 32-bit pixels (0x00RRGGBB in a little-endian word: the framebuffer's
// B, G, R, X bytes, as GRUB's 32 bpp RGB modes and QEMU's std VGA lay them out): each cell is one
// 8x16 glyph of the built-in font (Font8x16.swift) in the cell's colours from the 16-colour palette,
// the cursor's cell with its colours swapped. Pure logic on a pixel pointer, host-tested
// (TextTerminalTests) and used by outputd on its fbd surface; the screendump test checks the guest's
// picture with the same functions.

/// The 16 terminal colours as 0xRRGGBB: the VGA text-mode palette (dark yellow is brown), 0-7 normal,
/// 8-15 bright.
public enum TerminalPalette {
    public static let rgb: [UInt32] = [
        0x000000, 0xaa0000, 0x00aa00, 0xaa5500, 0x0000aa, 0xaa00aa, 0x00aaaa, 0xaaaaaa,
        0x555555, 0xff5555, 0x55ff55, 0xffff55, 0x5555ff, 0xff55ff, 0x55ffff, 0xffffff,
    ]

    /// Palette colour `index` (taken modulo 16).
    public static func colour(_ index: UInt8) -> UInt32 { rgb[Int(index & 15)] }
}

public enum TerminalRenderer {
    public static let cellWidth = 8
    public static let cellHeight = 16

    /// Whether pixel (`x`, `y`) of the glyph shown for `character` is set (foreground). Bytes outside
    /// printable ASCII show as `?`.
    public static func pixel(_ character: UInt8, x: Int, y: Int) -> Bool {
        let c = character >= 0x20 && character <= 0x7e ? character : 0x3f
        let word = font8x16Glyphs[Int(c - 0x20) * 2 + y / 8]
        let row = UInt8(truncatingIfNeeded: word >> UInt64((y % 8) * 8))
        return row & (0x80 >> UInt8(x)) != 0
    }

    /// Draws one cell at (`column`, `row`) into `pixels` (`pitch` pixels a line); `cursor` swaps its colours.
    public static func drawCell(_ cell: TerminalCell, column: Int, row: Int, cursor: Bool,
                                into pixels: UnsafeMutablePointer<UInt32>, pitch: Int) {
        var fg = TerminalPalette.colour(cell.foreground), bg = TerminalPalette.colour(cell.background)
        if cursor { swap(&fg, &bg) }
        let c = cell.character >= 0x20 && cell.character <= 0x7e ? cell.character : 0x3f
        let first = font8x16Glyphs[Int(c - 0x20) * 2], second = font8x16Glyphs[Int(c - 0x20) * 2 + 1]
        var line = pixels + row * cellHeight * pitch + column * cellWidth
        for y in 0..<cellHeight {
            let bits = UInt8(truncatingIfNeeded: (y < 8 ? first : second) >> UInt64((y % 8) * 8))
            for x in 0..<cellWidth { line[x] = bits & (0x80 >> UInt8(x)) != 0 ? fg : bg }
            line += pitch
        }
    }

    /// Draws row `row` of `terminal`.
    public static func drawRow(_ terminal: TextTerminal, row: Int, into pixels: UnsafeMutablePointer<UInt32>, pitch: Int) {
        let cursorHere = terminal.cursorVisible && terminal.cursorRow == row
        for column in 0..<terminal.columns {
            drawCell(terminal.cell(column, row), column: column, row: row,
                     cursor: cursorHere && column == terminal.cursorColumn, into: pixels, pitch: pitch)
        }
    }

    /// Applies `damage`: moves the picture of `rows` cell rows (`width` pixels wide) up by the lines
    /// scrolled, then draws the changed rows. The pixel rectangle that changed: (y, height) in pixels.
    @discardableResult
    public static func render(_ terminal: TextTerminal, _ damage: TerminalDamage,
                              into pixels: UnsafeMutablePointer<UInt32>, pitch: Int) -> (y: Int, height: Int) {
        let rows = terminal.rows
        var top = rows, bottom = -1
        if damage.scrolled > 0 && damage.scrolled < rows {
            let lines = damage.scrolled * cellHeight
            let keep = (rows - damage.scrolled) * cellHeight
            // Forward, word by word: the source lies above the destination, so overlap is safe.
            let source = pixels + lines * pitch
            for i in 0..<(keep * pitch) { pixels[i] = source[i] }
            top = 0
            bottom = rows - 1
        }
        for r in damage.rows {
            drawRow(terminal, row: r, into: pixels, pitch: pitch)
            top = min(top, r)
            bottom = max(bottom, r)
        }
        guard bottom >= top else { return (0, 0) }
        return (top * cellHeight, (bottom - top + 1) * cellHeight)
    }
}
