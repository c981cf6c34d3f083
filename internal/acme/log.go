package acme

import (
	"strings"

	"go.uber.org/zap/zapcore"
)

// newLogCore returns a zap core that turns certmagic's log entries of level info and above into
// one text line each ("info obtain: certificate obtained successfully {"identifier": ...}") for
// line, the caller adding its own time stamp.
func newLogCore(line func(string)) zapcore.Core {
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{
		LevelKey:         "level",
		NameKey:          "logger",
		MessageKey:       "msg",
		EncodeLevel:      zapcore.LowercaseLevelEncoder,
		EncodeDuration:   zapcore.StringDurationEncoder,
		EncodeName:       zapcore.FullNameEncoder,
		ConsoleSeparator: " ",
	})
	return zapcore.NewCore(enc, lineSink(line), zapcore.InfoLevel)
}

// lineSink is a zapcore.WriteSyncer that hands each encoded entry to a function.
type lineSink func(string)

var _ zapcore.WriteSyncer = lineSink(nil)

// Write passes one encoded entry, without its newline.
func (s lineSink) Write(p []byte) (int, error) {
	s(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Sync does nothing: lines are handed over as they come.
func (lineSink) Sync() error { return nil }
