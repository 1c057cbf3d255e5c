package notifier

import "testing"

func TestStripHidden(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "main", "main"},
		{"right-to-left override", "feature/\u202Egnp.exe\u202C", "feature/gnp.exe"},
		{"every embedding, override and isolate", "a\u202Ab\u202Bc\u202Cd\u202De\u202Ef\u2066g\u2067h\u2068i\u2069j", "abcdefghij"},
		{"zero-width space and friends", "ev\u200Bil \u2060x\uFEFF\u2061y\u180Ez\u206Aw", "evil xyzw"},
		{"marks stay", "abc \u200Fשלום\u200E", "abc \u200Fשלום\u200E"},
		{"joiner between emoji stays", "👩\u200D💻 👨\u200D👩\u200D👧", "👩\u200D💻 👨\u200D👩\u200D👧"},
		{"joiner after a variation selector or skin tone stays", "🏳\uFE0F\u200D🌈 👩🏽\u200D🚀", "🏳\uFE0F\u200D🌈 👩🏽\u200D🚀"},
		{"joiner between letters goes", "pay\u200Dpal", "paypal"},
		{"joiner at the ends goes", "\u200D👩\u200D", "👩"},
		{"joiner between an emoji and a letter goes", "👩\u200Dx", "👩x"},
		{"non-joiner in Persian stays", "می\u200Cخواهم", "می\u200Cخواهم"},
		{"non-joiner in Latin goes", "ad\u200Cmin", "admin"},
		{"tags in a flag stay", "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F"},
		{"tags that smuggle text go", "ok\U000E0068\U000E0069", "ok"},
		{"invalid UTF-8 is left to the escaper", "a\xffb\u202E", "a\xffb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripHidden(tt.in); got != tt.want {
				t.Errorf("StripHidden(%+q) = %+q, want %+q", tt.in, got, tt.want)
			}
		})
	}
}
