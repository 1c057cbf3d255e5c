package notifier

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// StripHidden removes from untrusted text the invisible characters that could reorder it or hide part of
// it, so that a title or a commit message reads in Slack and Discord as it is stored. Every service's
// escaper calls it first, so that all services follow one rule:
//
//   - bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) are dropped: with
//     them, "main" can be made to display as "niam" and a branch name can swallow the text after it;
//   - zero-width and invisible format characters are dropped (U+200B, U+2060-U+2064, U+206A-U+206F,
//     U+FEFF, U+180E), except where a script or emoji needs them: U+200D (zero-width joiner) is kept
//     between two pictographs (👩‍💻, 🏳️‍🌈), U+200C (non-joiner) between two letters of a script other than
//     Latin (Persian, Indic), and tag characters (U+E0020-U+E007F) only in a flag sequence after 🏴.
//
// Left-to-right and right-to-left marks (U+200E, U+200F) stay: they cannot reorder a run of text, and
// Arabic and Hebrew text needs them.
func StripHidden(s string) string {
	if !mayHide(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	prev := rune(-1) // the last rune kept
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		keep := true
		switch {
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			keep = false
		case r == 0x200B, r >= 0x2060 && r <= 0x2064, r >= 0x206A && r <= 0x206F, r == 0xFEFF, r == 0x180E:
			keep = false
		case r == 0x200D:
			next, _ := utf8.DecodeRuneInString(s[i+w:])
			keep = joinsEmoji(prev) && pictograph(next)
		case r == 0x200C:
			next, _ := utf8.DecodeRuneInString(s[i+w:])
			keep = nonLatinLetter(prev) && nonLatinLetter(next)
		case r >= 0xE0000 && r <= 0xE007F:
			keep = prev == 0x1F3F4 || (prev >= 0xE0020 && prev <= 0xE007E)
		}
		if keep {
			b.WriteString(s[i : i+w]) // the bytes as they were: an invalid byte is not this function's to mend
			prev = r
		}
		i += w
	}
	return b.String()
}

// mayHide reports whether s may hold a character StripHidden removes: all of them are at U+180E or above,
// whose UTF-8 encodings start with a byte of 0xE1 or more.
func mayHide(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xE1 {
			return true
		}
	}
	return false
}

// joinsEmoji reports whether a zero-width joiner after r continues an emoji: r is a pictograph, or the
// variation selector or skin tone that ends one.
func joinsEmoji(r rune) bool {
	return pictograph(r) || r == 0xFE0F || (r >= 0x1F3FB && r <= 0x1F3FF)
}

// pictograph approximates Unicode's Extended_Pictographic property with the blocks emoji come from.
func pictograph(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF, r >= 0x2600 && r <= 0x27BF, r >= 0x2300 && r <= 0x23FF,
		r >= 0x2B00 && r <= 0x2BFF, r >= 0x2190 && r <= 0x21FF:
		return true
	}
	switch r {
	case 0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D, 0x3297, 0x3299:
		return true
	}
	return false
}

// nonLatinLetter reports whether r is a letter or mark of a script that may need a zero-width non-joiner.
func nonLatinLetter(r rune) bool {
	return r >= 0x0370 && (unicode.IsLetter(r) || unicode.IsMark(r)) && !unicode.Is(unicode.Latin, r)
}
