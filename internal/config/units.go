package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// durationHint ends every message about a malformed duration.
const durationHint = "write a Go duration such as 5s, 250ms or 1m30s"

// sizeHint ends every message about a malformed size.
const sizeHint = "write a whole number of bytes or a whole number with a unit (B, KB, MB, GB, KiB, MiB, GiB), such as 512, 16KiB or 2MB"

// sizeUnits are the units a Size may be written with, largest first within each family so that
// String picks the largest unit that divides a size exactly, binary units first.
var sizeUnits = [...]struct {
	name string
	mult int64
}{
	{"GiB", 1 << 30},
	{"MiB", 1 << 20},
	{"KiB", 1 << 10},
	{"GB", 1000 * 1000 * 1000},
	{"MB", 1000 * 1000},
	{"KB", 1000},
	{"B", 1},
}

// ParseDuration parses a Go duration ("5s", "250ms", "1m30s"); negative durations are an error.
func ParseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: %s", s, durationHint)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: it must not be negative; %s", s, durationHint)
	}
	return Duration(d), nil
}

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String renders d in Go duration syntax, such as "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText renders d as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses text as ParseDuration does.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseSize parses a byte count: a non-negative whole number of bytes ("512"), or a whole number
// followed by a unit, optionally after one space ("16KiB", "2 MB"). Units are case-sensitive:
// B, KB, MB, GB (powers of 1000) and KiB, MiB, GiB (powers of 1024). Sizes past the int64 range
// are an error.
func ParseSize(s string) (Size, error) {
	num, unit := s, ""
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		num, unit = s[:i], s[i:]
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("invalid size %q: it must not be negative; %s", s, sizeHint)
	}
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: %s", s, sizeHint)
	}
	unit = strings.TrimPrefix(unit, " ")
	mult := int64(-1)
	if unit == "" && !strings.HasSuffix(s, " ") {
		mult = 1
	}
	for _, u := range sizeUnits {
		if unit == u.name {
			mult = u.mult
		}
	}
	if mult < 0 {
		return 0, fmt.Errorf("invalid size %q: %s", s, sizeHint)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if errors.Is(err, strconv.ErrRange) || (err == nil && n > math.MaxInt64/mult) {
		return 0, fmt.Errorf("invalid size %q: it is too large; the largest size is %d bytes (about 8EiB)", s, int64(math.MaxInt64))
	}
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %s", s, sizeHint)
	}
	return Size(n * mult), nil
}

// Int64 is s as a number of bytes.
func (s Size) Int64() int64 { return int64(s) }

// String renders s with the largest unit that divides it exactly, binary units first ("8KiB",
// "100MiB", "2MB", "1500B"); ParseSize reads the result back to the same size.
func (s Size) String() string {
	if s == 0 {
		return "0B"
	}
	if s < 0 {
		return strconv.FormatInt(int64(s), 10) + "B"
	}
	for _, u := range sizeUnits {
		if int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// MarshalText renders s as String does.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses text as ParseSize does.
func (s *Size) UnmarshalText(text []byte) error {
	v, err := ParseSize(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Percent is a share written "20%" (or "20"), stored as a fraction (0.2).
type Percent float64

// ParsePercent parses "20%", "20" or "0.5%" into a fraction from 0 to 1.
func ParsePercent(s string) (Percent, error) {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) {
		return 0, fmt.Errorf("invalid percentage %q: write a share such as 20%%", s)
	}
	if f < 0 || f > 100 {
		return 0, fmt.Errorf("percentage %q is out of range: write a share from 0%% to 100%%", s)
	}
	return Percent(f / 100), nil
}

// String writes the share as "20%".
func (p Percent) String() string { return strconv.FormatFloat(float64(p)*100, 'g', -1, 64) + "%" }

// MarshalText writes the share as "20%".
func (p Percent) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses "20%".
func (p *Percent) UnmarshalText(text []byte) error {
	v, err := ParsePercent(string(text))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
