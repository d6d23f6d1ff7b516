//! The folding tables: what each character folds to, and the byte-kind tables the folding loop
//! steps by, all computed at compile time.

/// What one source character becomes.
#[derive(Clone, Copy)]
pub(super) enum Fold {
    Keep(char),
    /// A `ه` that was `ة`.
    TehMarbuta,
    Delete,
    /// Hamza above or below: deleted, but turns a preceding و or ي into ء.
    HamzaMark,
    /// Whitespace or a gap character: one space per run.
    Gap,
    /// Needs the compatibility decomposition (rare characters).
    Decompose,
}

/// What the folding loop does with a character: copy it (`SAME`), put another character of the
/// same length in its place (`SWAP`), or leave it to
/// [`Out::apply`](super::fold::Out::apply) (`OTHER`). `SPACE` and `GAP` are the ASCII space and
/// other ASCII gap characters (one space per run), `TEH` is ة (swapped for ه and remembered), `ARABIC_LEAD` the lead byte of U+0600–06FF (see [`ARABIC_KIND`]).
pub(super) const SAME: u8 = 0;
pub(super) const SWAP: u8 = 1;
pub(super) const SPACE: u8 = 2;
pub(super) const GAP: u8 = 3;
pub(super) const TEH: u8 = 4;
pub(super) const ARABIC_LEAD: u8 = 5;
pub(super) const OTHER: u8 = 6;

/// The kind of each byte that can start a character. ASCII bytes are whole characters; the lead
/// bytes of U+0600–06FF are `ARABIC_LEAD`; every other lead byte is `OTHER`.
pub(super) const LEAD: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut i = 0;
    while i < 128 {
        table[i] = match classify(i as u8 as char) {
            Fold::Keep(c) if c as usize == i => SAME,
            // ASCII characters keep to ASCII: a swap keeps the length.
            Fold::Keep(_) => SWAP,
            Fold::Gap if i == b' ' as usize => SPACE,
            Fold::Gap => GAP,
            _ => OTHER,
        };
        i += 1;
    }
    let mut lead = 0xD8;
    while lead <= 0xDB {
        table[lead] = ARABIC_LEAD;
        lead += 1;
    }
    table
};

/// The kind of each character of the Arabic block: `SAME`, `SWAP` (for a two-byte character),
/// `TEH` or `OTHER`.
pub(super) const ARABIC_KIND: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = match (ARABIC[i], char::from_u32(0x0600 + i as u32)) {
            (Fold::Keep(c), Some(ch)) if c as u32 == ch as u32 => SAME,
            (Fold::Keep(c), Some(_)) if c.len_utf8() == 2 => SWAP,
            (Fold::TehMarbuta, Some(_)) => TEH,
            _ => OTHER,
        };
        i += 1;
    }
    table
};

/// For a byte and the one before it (the high byte), whether the byte may stay in a run of
/// characters that fold to themselves: an ASCII character that folds to itself; a space after
/// anything but a space; the lead byte of U+0600–06FF (its second byte decides); the second byte
/// of a character of U+0600–06FF that folds to itself. Stepping byte by byte, the loop does not
/// wait for each character's length, so it runs as fast as the bytes load.
pub(super) static KEEPS: [bool; 1 << 16] = {
    let mut table = [false; 1 << 16];
    let mut previous = 0;
    while previous < 256 {
        let mut byte = 0;
        while byte < 256 {
            table[(previous << 8) | byte] = match LEAD[byte] {
                SAME => true,
                SPACE => previous != b' ' as usize,
                ARABIC_LEAD => true,
                _ => {
                    byte & 0xC0 == 0x80
                        && LEAD[previous] == ARABIC_LEAD
                        && ARABIC_KIND[arabic_index(previous as u8, byte as u8)] == SAME
                }
            };
            byte += 1;
        }
        previous += 1;
    }
    table
};

/// The index in U+0600–06FF of the two-byte character `lead`, `next` (110110xx 10yyyyyy).
#[inline(always)]
pub(super) const fn arabic_index(lead: u8, next: u8) -> usize {
    (((lead & 0x03) as usize) << 6) | (next & 0x3F) as usize
}

/// How each ASCII character folds, computed once at compile time.
pub(super) const ASCII: [Fold; 128] = {
    let mut table = [Fold::Delete; 128];
    let mut i = 0;
    while i < 128 {
        table[i] = classify(i as u8 as char);
        i += 1;
    }
    table
};

/// How each character of the Arabic block folds, computed once at compile time.
pub(super) const ARABIC: [Fold; 256] = {
    let mut table = [Fold::Delete; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = match char::from_u32(0x0600 + i as u32) {
            Some(c) => arabic(c),
            None => Fold::Delete,
        };
        i += 1;
    }
    table
};

pub(super) const fn classify(ch: char) -> Fold {
    match ch {
        'A'..='Z' => Fold::Keep(ch.to_ascii_lowercase()),
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' => Fold::Gap,
        '"' | '\'' | '(' | ')' | '[' | ']' | '-' | '_' => Fold::Gap,
        '\0'..='\u{7F}' => Fold::Keep(ch),
        '\u{0600}'..='\u{06FF}' => arabic(ch),
        '«' | '»' | '‘' | '’' | '‚' | '‛' | '“' | '”' | '„' | '‟' | '‹' | '›' => {
            Fold::Gap
        }
        '\u{2010}'..='\u{2015}' | '﴾' | '﴿' | '\u{2212}' => Fold::Gap,
        // Format characters (Cf): soft hyphen, zero-width and bidi controls, BOM.
        '\u{00AD}'
        | '\u{070F}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' => Fold::Delete,
        '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}' => Fold::Delete,
        // Isolated haraka forms: deleted before decomposition, which would turn them into a
        // space and a mark and split the word.
        '\u{FE70}'..='\u{FE7F}' => Fold::Delete,
        c if is_mark(c) => Fold::Delete,
        c if c.is_whitespace() => Fold::Gap,
        _ => Fold::Decompose,
    }
}

/// The Arabic block, U+0600–06FF.
pub(super) const fn arabic(ch: char) -> Fold {
    match ch {
        'أ' | 'إ' | 'آ' | 'ٱ' | 'ٲ' | 'ٳ' | 'ٵ' => Fold::Keep('ا'),
        'ى' | 'ی' | 'ے' | 'ې' => Fold::Keep('ي'),
        'ک' | 'ڪ' => Fold::Keep('ك'),
        'ة' | 'ۃ' => Fold::TehMarbuta,
        'ۀ' | 'ہ' | 'ە' | 'ھ' => Fold::Keep('ه'),
        'ؤ' | 'ئ' | 'ٶ' | 'ٷ' | 'ٸ' => Fold::Keep('ء'),
        '٠'..='٩' => Fold::Keep((b'0' + (ch as u32 - '٠' as u32) as u8) as char),
        '۰'..='۹' => Fold::Keep((b'0' + (ch as u32 - '۰' as u32) as u8) as char),
        '\u{0654}' | '\u{0655}' => Fold::HamzaMark,
        // Harakat and other marks, superscript alef, Quranic annotation signs, tatweel.
        '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06ED}'
        | '\u{0640}' => Fold::Delete,
        // Arabic number signs and the letter mark are format characters.
        '\u{0600}'..='\u{0605}' | '\u{061C}' => Fold::Delete,
        _ => Fold::Keep(ch),
    }
}

/// Combining marks that can follow a base letter (Mn/Me in the scripts news text uses).
pub(super) const fn is_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}' | '\u{0483}'..='\u{0489}' | '\u{0591}'..='\u{05C7}'
        | '\u{0610}'..='\u{061A}' | '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}'
        | '\u{08D3}'..='\u{08FF}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}' | '\u{3099}' | '\u{309A}')
}
