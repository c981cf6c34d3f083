package config

// Route matches requests and says what to do with them: forward to an upstream, answer with a
// fixed response, or redirect. Exactly one of Upstream, Respond and Redirect is set.
type Route struct {
	// Name identifies the route in logs, metrics and errors. Default "route-N" (N its index).
	Name string `yaml:"name"`
	// Match selects requests. An empty match selects every request.
	Match Match `yaml:"match"`
	// Upstream is the name of the upstream to forward to.
	Upstream string `yaml:"upstream"`
	// Respond answers directly with a fixed response.
	Respond *Respond `yaml:"respond"`
	// Redirect answers with a redirect.
	Redirect *Redirect `yaml:"redirect"`
	// Rewrite changes the request-target sent to the backend.
	Rewrite *Rewrite `yaml:"rewrite"`
	// UpstreamHost is the Host sent to the backend: "pass" (the client's, the default), "backend"
	// (the backend's host:port), or a literal host name.
	UpstreamHost string `yaml:"upstream_host"`
	// MaxBodySize is the largest request body accepted; larger gets 413. Default 100MiB; 0 is not
	// allowed, write a size.
	MaxBodySize Size `yaml:"max_body_size"`
	// RequireClientCert refuses (403) a request that did not come with a verified client
	// certificate: for routes behind mutual TLS on a listener whose client_auth mode is "request".
	// Default false.
	RequireClientCert bool `yaml:"require_client_cert"`
	// RequestHeaders change the request sent to the backend.
	RequestHeaders HeaderOps `yaml:"request_headers"`
	// ResponseHeaders change the response sent to the client.
	ResponseHeaders HeaderOps `yaml:"response_headers"`
}

// Match selects requests. Every condition written must hold. Paths are matched in their
// normalised form: unreserved characters percent-decoded, "." and ".." segments resolved, repeated
// slashes merged, so /%61dmin, //admin and /x/../admin all match /admin.
type Match struct {
	// Hosts are host names (exact, or "*.example.com" for any subdomain at any depth) or IP
	// literals, without a port (the request's port is ignored). Case-insensitive. Empty: any host.
	Hosts []string `yaml:"hosts"`
	// Path matches exactly this path. At most one of Path, PathPrefix and PathRegex is set.
	Path string `yaml:"path"`
	// PathPrefix matches a path that starts with it. Must start with "/". Default "/" when neither
	// Path nor PathRegex is set.
	PathPrefix string `yaml:"path_prefix"`
	// PathRegex matches a path in which this regular expression (RE2 syntax) finds a match; anchor
	// it with ^ and $ to match the whole path.
	PathRegex string `yaml:"path_regex"`
	// Methods lists the request methods that match (GET, POST, ...). Empty: any method.
	Methods []string `yaml:"methods"`
	// Headers are conditions on request header fields.
	Headers []FieldMatch `yaml:"headers"`
	// Query are conditions on query parameters (compared as sent, without percent-decoding).
	Query []FieldMatch `yaml:"query"`
	// ClientCIDRs lists address ranges (10.0.0.0/8) or addresses the client's IP (the TCP peer)
	// must be in. Empty: any client.
	ClientCIDRs []string `yaml:"client_cidrs"`
}

// FieldMatch is a condition on a header field or query parameter: at most one of Value, Regex
// and Present is written; with none, the field must be present.
type FieldMatch struct {
	// Name is the field or parameter name. Header names are case-insensitive, query names are not.
	Name string `yaml:"name"`
	// Value matches when the field's value is exactly this.
	Value string `yaml:"value"`
	// Regex matches when this regular expression (RE2) finds a match in the value.
	Regex string `yaml:"regex"`
	// Present: true matches when the field is sent, false when it is not.
	Present *bool `yaml:"present"`
}

// Respond is a fixed response.
type Respond struct {
	// Status is the HTTP status code, 200-599 (1xx is not allowed). Default 200.
	Status int `yaml:"status"`
	// Body is sent as is.
	Body string `yaml:"body"`
	// Headers are added to the response. Content-Length is always computed; framing and hop-by-hop
	// headers (Transfer-Encoding, Connection, ...) may not be set.
	Headers map[string]string `yaml:"headers"`
}

// Redirect answers with a redirect to a URL built from the request: each part not written keeps
// the request's.
type Redirect struct {
	// Status is 301, 302, 303, 307 or 308. Default 302.
	Status int `yaml:"status"`
	// Scheme is "http" or "https". Default: the request's scheme.
	Scheme string `yaml:"scheme"`
	// Host is the host name to redirect to. Default: the request's host.
	Host string `yaml:"host"`
	// Port is the port to redirect to. Default: the request's port when neither scheme nor host
	// changes, else none (the scheme's default port).
	Port int `yaml:"port"`
	// Path replaces the path. Default: the request's path as sent.
	Path string `yaml:"path"`
	// StripQuery drops the query. Default false: the query is kept.
	StripQuery bool `yaml:"strip_query"`
}

// Rewrite changes the request-target sent to the backend, in this order: regex replacement,
// strip prefix, add prefix. The query is kept as sent. Without a rewrite the backend receives the
// target exactly as the client sent it.
type Rewrite struct {
	// NormalizedPath sends the normalised path (the one routes match) instead of the path as sent.
	NormalizedPath bool `yaml:"normalized_path"`
	// Regex is a regular expression (RE2) whose first match in the path is replaced by Replacement.
	Regex string `yaml:"regex"`
	// Replacement replaces the match of Regex; $1 or ${name} insert capture groups.
	Replacement string `yaml:"replacement"`
	// StripPrefix is removed from the start of the path when it is there ("/api" turns "/api/x"
	// into "/x", and "/api" into "/").
	StripPrefix string `yaml:"strip_prefix"`
	// AddPrefix is put in front of the path ("/v2" turns "/x" into "/v2/x").
	AddPrefix string `yaml:"add_prefix"`
}

// HeaderOps changes header fields: Remove, then Set, then Add. None may touch the headers that
// frame a message or are hop-by-hop (Content-Length, Transfer-Encoding, Connection, Upgrade,
// Keep-Alive, TE, Trailer) or Host (see Route.UpstreamHost).
type HeaderOps struct {
	// Set replaces a field (or adds it when absent).
	Set map[string]string `yaml:"set"`
	// Add appends a field, keeping any the message already has.
	Add map[string]string `yaml:"add"`
	// Remove deletes fields by name (case-insensitive).
	Remove []string `yaml:"remove"`
}
