package explain

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

// policyLines describes an upstream's settings, one "name: text" line each, names padded so that
// the texts align.
func policyLines(u *config.Upstream, req *h1.Request) []string {
	var out []string
	add := func(name, text string) { out = append(out, fmt.Sprintf("%-11s %s", name+":", text)) }
	add("balance", balanceText(u))
	if s := u.Sticky; s != nil {
		signed := "signed with sticky.secret"
		if s.Secret == "" {
			signed = "signed with a random secret each gatehouse process makes at start"
		}
		life := "a session cookie"
		if s.MaxAge > 0 {
			life = "kept " + dur(time.Duration(s.MaxAge))
		}
		add("sticky", fmt.Sprintf("cookie %s names the backend that served the client; %s, %s", s.Cookie, signed, life))
	}
	if u.SlowStart > 0 {
		add("slow start", fmt.Sprintf("a new or recovered backend ramps from 10%% to its full share over %s", dur(time.Duration(u.SlowStart))))
	}
	add("active", activeText(u.Health.Active))
	add("passive", passiveText(u.Health.Passive))
	if l := u.Limits; l.MaxConnections > 0 {
		q := "beyond, 503"
		if l.QueueSize > 0 {
			q = fmt.Sprintf("%d more wait up to %s, then 503", l.QueueSize, dur(time.Duration(l.QueueTimeout)))
		}
		add("limits", fmt.Sprintf("at most %d requests in flight per backend; %s", l.MaxConnections, q))
	}
	add("retries", retryText(u.Retry, req))
	return out
}

func balanceText(u *config.Upstream) string {
	switch u.Balance {
	case "round_robin":
		return "round_robin: each backend in turn"
	case "weighted_round_robin":
		return "weighted_round_robin: in turn, each backend as often as its weight says"
	case "least_conn":
		return "least_conn: the backend with the fewest requests in flight per unit of weight"
	case "random":
		return "random: at random, in proportion to the weights"
	case "consistent_hash":
		h := u.Hash
		var key string
		switch h.Key {
		case "header":
			key = "the " + h.Name + " header"
		case "cookie":
			key = "the " + h.Name + " cookie"
		case "path":
			key = "the path"
		default:
			key = "the client's IP"
		}
		bound := "no load bound"
		if h.LoadFactor > 0 {
			bound = fmt.Sprintf("bounded load: a backend takes at most %s× its share of the requests in flight, the excess goes on to the next",
				strconv.FormatFloat(h.LoadFactor, 'f', -1, 64))
		}
		alg := h.Algorithm
		if alg == "" {
			alg = "maglev"
		}
		return fmt.Sprintf("consistent_hash of %s (%s); %s", key, alg, bound)
	}
	return "p2c_ewma: of two backends drawn at random by weight, the one with the lower latency × requests in flight"
}

func activeText(a *config.ActiveHealth) string {
	if a == nil {
		return "none: a backend is up unless passive checks eject it"
	}
	probe := "a TCP connect"
	if a.Type != "tcp" {
		probe = a.Method + " " + a.Path
		if a.Host != "" {
			probe += " (Host: " + a.Host + ")"
		}
		probe += " expecting " + a.Status
		if a.Body != "" {
			probe += " and a body containing " + strconv.Quote(a.Body)
		}
	}
	return fmt.Sprintf("every %s, %s (timeout %s); down after %s, up after %s", dur(time.Duration(a.Interval)), probe,
		dur(time.Duration(a.Timeout)), plural(a.Fall, "failure"), plural(a.Rise, "pass"))
}

func passiveText(p config.Passive) string {
	var after []string
	if p.Consecutive5xx > 0 {
		after = append(after, fmt.Sprintf("%d 5xx", p.Consecutive5xx))
	}
	if p.ConsecutiveFailures > 0 {
		after = append(after, plural(p.ConsecutiveFailures, "connection failure"))
	}
	if len(after) == 0 {
		return "off"
	}
	return fmt.Sprintf("ejected after %s in a row, for %s (doubling on repeat, up to %s); at most %d%% of the backends at once",
		strings.Join(after, " or "), dur(time.Duration(p.BaseEjection)), dur(time.Duration(p.MaxEjection)), p.MaxEjectedPercent)
}

func retryText(r config.Retry, req *h1.Request) string {
	if r.Attempts <= 0 {
		return "off"
	}
	statuses := make([]string, len(r.OnStatus))
	for i, s := range r.OnStatus {
		statuses[i] = strconv.Itoa(s)
	}
	when := "after a connection failure"
	switch {
	case len(statuses) == 0:
	case req.Idempotent():
		when += fmt.Sprintf(", or a %s answer (%s is idempotent)", joinOr(statuses), req.Method)
	default:
		when += fmt.Sprintf(" only: %s is not idempotent, so a %s answer is passed on", req.Method, joinOr(statuses))
	}
	var s string
	if r.Attempts > 1 {
		s = fmt.Sprintf("up to %d retries, each on another backend, %s", r.Attempts, when)
	} else {
		s = "1 retry on another backend, " + when
	}
	if r.PerTryTimeout > 0 {
		s += fmt.Sprintf("; each try gets %s to answer", dur(time.Duration(r.PerTryTimeout)))
	}
	return s + fmt.Sprintf("; at most %s of the requests (at least %d/s)", r.Budget, r.MinPerSecond)
}

// joinOr joins "a", "a or b", "a, b or c".
func joinOr(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
